"""The backfill: its tier (pure Python) agrees with a naive reading of the 5-minute grid; errors are one line."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from sloplane.backfill.cli import backfill
from sloplane.backfill.tier import tier_series
from sloplane.errors import SloplaneError
from sloplane.slo.naming import ERRORS_BUCKET, SAMPLES_PARTIAL, TOTAL_PARTIAL
from tests.slo.test_backfill import SLO_PY
from tests.support.processes import free_port

DAY = 86400
T0 = 1_790_000_000 // 3600 * 3600


def _grid_value(rates: dict[int, float], g: int) -> float | None:
    """Prometheus' lookback: the latest rate in [g - 5m, g]."""
    found = [t for t in rates if g - 300 <= t <= g]
    return rates[max(found)] if found else None


def _naive(rates: dict[int, float], lo: int, hi: int) -> tuple[float, int]:
    values = [_grid_value(rates, g) for g in range((lo // 300 + 1) * 300, hi + 1, 300)]
    present = [v for v in values if v is not None]
    return sum(present), len(present)


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=50), min_size=400, max_size=400),
    st.integers(min_value=0, max_value=380),
    st.integers(min_value=0, max_value=30),
)
def test_hour_so_far_and_buckets_match_the_grid(values: list[float], gap_at: int, gap: int) -> None:
    steps = range(T0, T0 + 400 * 60, 60)
    total = {t: v + 1 for t, v in zip(steps, values, strict=True)}
    for t in list(total)[gap_at : gap_at + gap]:  # a scrape gap
        del total[t]
    errors = {t: v / 10 for t, v in total.items()}
    start, end = T0 + 3 * 3600, T0 + 399 * 60
    out = {s.name: dict(s.samples) for s in tier_series(errors, total, {}, start, end)}
    for t, value in out[TOTAL_PARTIAL].items():
        behind = t - 300
        want, count = _naive(total, behind // 3600 * 3600, behind // 300 * 300)
        assert abs(value - want) < 1e-9 and out[SAMPLES_PARTIAL][t] == count
    for t, value in out[ERRORS_BUCKET].items():
        b = (t - 300) // 3600 * 3600
        assert t % 1800 == 600 and abs(value - _naive(errors, b - 3600, b)[0]) < 1e-9


def test_backfill_errors_are_one_line_naming_the_option(tmp_path: Path) -> None:
    slos = tmp_path / "slos.py"
    slos.write_text(SLO_PY)
    port = free_port()  # nothing listens there
    result = CliRunner().invoke(
        backfill,
        [
            "--slos",
            str(slos),
            "--prometheus-url",
            f"http://127.0.0.1:{port}",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert isinstance(result.exception, SloplaneError)
    assert str(result.exception).startswith(
        f"--prometheus-url http://127.0.0.1:{port}: cannot query"
    )
    bad_step = CliRunner().invoke(
        backfill,
        [
            "--slos",
            str(slos),
            "--prometheus-url",
            "http://x",
            "--out",
            str(tmp_path),
            "--step",
            "7",
        ],
    )
    assert isinstance(bad_step.exception, SloplaneError) and "--step 7" in str(bad_step.exception)
