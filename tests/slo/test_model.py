"""The SLO model: derived numbers, normalisation and validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sloplane.slo.model import SLO, Alerting, AlertTier, AlertWindow, EventsSLI, LatencySLI

SLI = EventsSLI(errors='x_total{code=~"5.."}', total="x_total")


def make(**kw: object) -> SLO:
    base: dict[str, object] = {
        "service": "api",
        "name": "availability",
        "objective": 99.9,
        "sli": SLI,
    }
    return SLO(**{**base, **kw})  # type: ignore[arg-type]


def test_derived_numbers() -> None:
    slo = make()
    assert slo.id == "api-availability"
    assert slo.objective == 0.999
    assert slo.error_budget == 0.001
    assert slo.budget_minutes == pytest.approx(43.2)
    assert slo.window == 30 * 86400
    assert make(objective=0.995).objective == 0.995


def test_burn_rate_and_budget_remaining() -> None:
    slo = make()  # budget 0.001
    assert slo.burn_rate(0.002) == pytest.approx(2.0)
    assert slo.budget_remaining(0.00025) == pytest.approx(0.75)
    assert slo.burn_rate(None) is None and slo.budget_remaining(None) is None
    highest = make(objective=99.9999999999)  # the highest objective the model keeps
    assert highest.error_budget == 1e-12
    assert highest.burn_rate(1e-6) == pytest.approx(1e6)
    # a bool is coerced to 1.0: a 100% objective without a budget has no burn rate
    no_budget = make(objective=True)
    assert no_budget.error_budget == 0
    assert no_budget.burn_rate(0.01) is None and no_budget.budget_remaining(0.01) is None


@pytest.mark.parametrize("objective", [0, 100, 150, -1, 0.0])
def test_objective_out_of_range(objective: float) -> None:
    with pytest.raises(ValidationError, match="objective"):
        make(objective=objective)


@pytest.mark.parametrize("window", ["30m", "91d", "1h30s", "1y", "abc"])
def test_window_out_of_range_or_malformed(window: str) -> None:
    with pytest.raises(ValidationError, match="window"):
        make(window=window)


def test_events_needs_exactly_one_of_errors_or_good() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        EventsSLI(total="x")
    with pytest.raises(ValidationError, match="exactly one"):
        EventsSLI(errors="a", good="b", total="x")


def test_reserved_and_invalid_labels() -> None:
    with pytest.raises(ValidationError, match="reserved"):
        make(labels={"sloplane_id": "x"})
    with pytest.raises(ValidationError, match="label name"):
        make(group_by=("bad-label",))


def test_models_are_immutable() -> None:
    slo = make()
    with pytest.raises(ValidationError):
        slo.objective = 0.5  # type: ignore[misc]


def test_explicit_windows_and_names() -> None:
    slo = make(
        alerting=Alerting(
            page=AlertTier(name="Fast", windows=(AlertWindow(long="1m", short="10s", factor=10),)),
            ticket=AlertTier(enabled=False),
        )
    )
    (w,) = slo.burn_windows("page")
    assert (w.long, w.short, w.factor) == (60, 10, 10)
    assert slo.burn_windows("ticket") == ()
    assert slo.alert_name("page") == "Fast"
    assert make().alert_name("ticket") == "ApiAvailabilityErrorBudgetBurnTicket"


def test_latency_threshold_accepts_numbers() -> None:
    assert LatencySLI(metric="h", threshold=0.3).threshold == "0.3"  # type: ignore[arg-type]
    assert LatencySLI(metric="h", threshold=1, selector='{job="a"}').selector == 'job="a"'  # type: ignore[arg-type]


def test_objective_given_as_text_is_converted_and_checked() -> None:
    assert make(objective="99.9").objective == 0.999  # type: ignore[arg-type]
    assert make(objective="99.5%").objective == 0.995  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="not a number"):
        make(objective="high")  # type: ignore[arg-type]


def test_objective_that_leaves_no_budget_is_rejected() -> None:
    with pytest.raises(ValidationError, match="out of range"):
        make(objective=99.99999999999999)
