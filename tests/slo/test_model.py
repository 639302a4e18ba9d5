"""The SLO model: derived numbers, normalisation and validation."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from sloplane.slo.model import (
    SLO,
    Alerting,
    AlertTier,
    AlertWindow,
    EventsSLI,
    LatencySLI,
    NoDataAlert,
)

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
    # validation refuses every objective that leaves no budget (bools included), so a
    # budget of 0 only exists in a model built without validation: it has no burn rate
    no_budget = make().model_copy(update={"objective": 1.0})
    assert no_budget.error_budget == 0
    assert no_budget.burn_rate(0.01) is None and no_budget.budget_remaining(0.01) is None


@pytest.mark.parametrize(
    "objective", [0, 100, 150, -1, 0.0, math.nan, math.inf, -math.inf, 10**400]
)
def test_objective_out_of_range(objective: float) -> None:
    with pytest.raises(ValidationError, match="objective"):
        make(objective=objective)


@pytest.mark.parametrize("window", ["30m", "91d", "1h30s", "1y", "abc"])
def test_window_out_of_range_or_malformed(window: str) -> None:
    with pytest.raises(ValidationError, match="window"):
        make(window=window)


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (True, "expected a duration"),
        (False, "expected a duration"),
        (60.0, "outside 1h..90d"),
        (3630.0, "whole number of minutes"),
        (91 * 86400.0, "outside 1h..90d"),
        (3600.5, "fractional part"),
    ],
)
def test_window_numbers_are_checked_like_ints(window: object, message: str) -> None:
    # a bool or a float used to skip the range and whole-minute checks (True was a 1s window)
    with pytest.raises(ValidationError, match=message):
        make(window=window)


def test_window_given_as_a_whole_float_is_seconds() -> None:
    assert make(window=7200.0).window == 7200
    assert type(make(window=7200.0).window) is int


@pytest.mark.parametrize("field", ["long", "short"])
def test_alert_window_durations_refuse_booleans(field: str) -> None:
    values: dict[str, object] = {"long": "1h", "short": "5m", "factor": 14.4, field: True}
    with pytest.raises(ValidationError, match="expected a duration"):
        AlertWindow(**values)  # type: ignore[arg-type]


def test_no_data_for_refuses_booleans() -> None:
    with pytest.raises(ValidationError, match="expected a duration"):
        NoDataAlert.model_validate({"enabled": True, "for": True})


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


@pytest.mark.parametrize("objective", [True, False])
def test_objective_refuses_booleans(objective: bool) -> None:
    with pytest.raises(ValidationError, match=f"expected a number, got bool {objective}") as info:
        make(objective=objective)
    (error,) = info.value.errors()
    assert error["loc"] == ("objective",)


@pytest.mark.parametrize(
    ("objective", "ratio"),
    [
        (Decimal("99.9"), 0.999),
        (Decimal("0.995"), 0.995),
        (Fraction(999, 1000), 0.999),
        (Fraction(199, 2), 0.995),
        # 1 and above is a percentage, whatever the type: Decimal("1") is 1%, as 1 and 1.0 are
        (Decimal("1"), 0.01),
        (Fraction(1), 0.01),
        (1, 0.01),
        (Decimal("99.9999999999"), 0.999999999999),
    ],
)
def test_decimal_and_fraction_objectives_are_numbers(objective: object, ratio: float) -> None:
    assert make(objective=objective).objective == ratio


@pytest.mark.parametrize(
    "objective",
    [
        Decimal("100"),
        Decimal("0"),
        Decimal("-5"),
        Decimal("99.99999999999999"),
        Decimal("NaN"),
        Decimal("Infinity"),
        Decimal("1e-13"),
        Fraction(100),
        Fraction(1, 10**13),
        Fraction(10**400),
    ],
)
def test_decimal_and_fraction_objectives_out_of_range(objective: object) -> None:
    with pytest.raises(ValidationError, match="out of range"):
        make(objective=objective)


def test_decimal_signalling_nan_is_not_a_number() -> None:
    with pytest.raises(ValidationError, match="objective sNaN is not a number"):
        make(objective=Decimal("sNaN"))


@pytest.mark.parametrize("objective", [1e-13, 4.9e-13, "1e-13", Decimal("4e-13"), 5e-13])
def test_objective_that_rounds_to_zero_is_rejected(objective: object) -> None:
    with pytest.raises(ValidationError, match="out of range: it rounds to 0%"):
        make(objective=objective)


def test_lowest_and_highest_objectives_kept() -> None:
    lowest = make(objective=1e-12)
    assert lowest.objective == 1e-12 and lowest.error_budget == 0.999999999999
    assert make(objective=99.9999999999).error_budget == 1e-12
    with pytest.raises(ValidationError, match="out of range: it rounds to 100%"):
        make(objective=0.9999999999999)


def _accepted(objective: object) -> float | None:
    try:
        return make(objective=objective).objective
    except ValidationError as exc:
        (error,) = exc.errors()
        assert error["loc"] == ("objective",)
        assert "out of range" in error["msg"] or "not a number" in error["msg"]
        return None


@given(st.floats() | st.integers(-(10**6), 10**6))
def test_every_accepted_objective_is_a_ratio_with_a_budget(objective: float) -> None:
    kept = _accepted(objective)
    if kept is None:
        return
    ratio = objective if 0 < objective < 1 else objective / 100
    assert kept == round(ratio, 12)
    assert 0 < kept < 1
    slo = make(objective=objective)
    assert 0 < slo.error_budget <= 1 and slo.budget_minutes > 0


@given(st.decimals(allow_nan=True) | st.fractions())
def test_decimal_and_fraction_objectives_behave_as_their_float(
    objective: Decimal | Fraction,
) -> None:
    try:
        as_float = float(objective)
    except (ValueError, OverflowError):
        assert _accepted(objective) is None
        return
    assert _accepted(objective) == _accepted(as_float)
