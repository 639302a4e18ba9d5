"""Detector contract: causal, bounded, same scores streamed or batched, and they see shifts."""

from __future__ import annotations

import gc
import math
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sloplane.detectors import DETECTORS, make_detector
from sloplane.detectors.detectors import DetectorError
from sloplane.detectors.watch import make_watch
from sloplane.errors import SloplaneError

FAST = {"iforest": {"refit_every": 50}, "ensemble": {"warmup": 40}}


def _series(
    n: int = 400, shift_at: int = 300, seed: int = 0, daily: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = 1_700_000_000 + 300.0 * np.arange(n)
    x = 10 + daily * np.sin(np.arange(n) * 2 * np.pi / 288) + rng.normal(0, 0.2, n)
    x[shift_at:] += 6.0
    return t, x


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_batch_equals_streaming_and_scores_are_in_range(name: str) -> None:
    t, x = _series(260, shift_at=200)
    batch = make_detector(name, **FAST.get(name, {})).score_many(t, x)
    det = make_detector(name, **FAST.get(name, {}))
    stream = np.array([det.update(a, b) for a, b in zip(t, x, strict=True)])
    assert np.array_equal(batch, stream)
    assert ((batch >= 0) & (batch <= 1)).all()


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_back_tests_score_in_slices_with_progress_and_the_same_scores(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    from sloplane.detectors import backtest

    t, x = _series(260, shift_at=200)
    x[50:53] = np.nan
    df = pd.DataFrame({"epoch": t, "value": x})
    whole = make_detector(name, **FAST.get(name, {})).score_many(t, x)
    monkeypatch.setattr(backtest, "PROGRESS_EVERY", 37)  # slices end mid-window and at the gap
    reports: list[tuple[int, int]] = []
    scored = backtest.run(df, name, FAST.get(name, {}), lambda d, n: reports.append((d, n)))
    assert np.array_equal(scored["anomaly_score"].to_numpy(), whole)
    assert reports == [(min(k, 260), 260) for k in range(37, 260 + 37, 37)]


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_warming_up_means_scores_of_zero_and_ends(name: str) -> None:
    """While a detector says it is warming up it scores 0, and it says so no longer
    than its learning phase (40 points here, 300 for iforest's likelihood)."""
    params = {
        "ensemble": {"warmup": 40},
        "iforest": {"refit_every": 50},  # the likelihood's default learning: 300 points
        "seasonal": {"learning": 40},
        "ewma": {"learning": 40},
        "holt": {"learning": 40},
    }.get(name, {})
    t, x = _series(700, shift_at=699)
    det = make_detector(name, **params)
    flags = []
    for a, b in zip(t, x, strict=True):
        warming = det.warming_up
        score = det.update(a, b)
        flags.append(warming)
        if warming:
            assert score == 0.0
    assert not det.warming_up
    if name in ("ensemble", "seasonal", "ewma", "holt", "iforest"):
        assert flags[0] and not flags[-1]


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_scores_are_causal(name: str) -> None:
    """The score of point i must not change when later points change."""
    t, x = _series(260, shift_at=200)
    y = x.copy()
    y[230:] = -50.0
    a = make_detector(name, **FAST.get(name, {})).score_many(t, x)
    b = make_detector(name, **FAST.get(name, {})).score_many(t, y)
    assert np.array_equal(a[:230], b[:230])


@pytest.mark.parametrize("name", ["ewma", "cusum", "seasonal", "ensemble"])
def test_level_shift_raises_the_score(name: str) -> None:
    # CUSUM assumes a flat baseline (a daily cycle looks like shifts to it): give it one.
    t, x = _series(700, shift_at=600, daily=0.0 if name == "cusum" else 1.0)
    params = {"ewma": {"learning": 100}, "seasonal": {"learning": 100}, "ensemble": {"warmup": 100}}
    s = make_detector(name, **params.get(name, {})).score_many(t, x)
    assert s[600:640].max() > max(0.5, s[400:600].max())


@settings(max_examples=25, deadline=None)
@given(st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(math.nan)), min_size=1, max_size=120))
def test_any_input_gives_scores_in_range(values: list[float]) -> None:
    det = make_detector("ensemble", warmup=5, signals=("ewma:1", "seasonal:3", "cusum:1"))
    s = det.score_many(np.arange(len(values)) * 60.0, values)
    assert len(s) == len(values)
    assert ((s >= 0) & (s <= 1)).all()
    assert all(s[i] == 0 for i, v in enumerate(values) if math.isnan(v))


def test_memory_is_bounded() -> None:
    det = make_detector("seasonal", depth=8)
    t, x = _series(5000, shift_at=4000)
    det.score_many(t, x)
    comp = det.component  # type: ignore[attr-defined]
    assert comp.ring.shape == (25, 8) and max(comp.fill) == 8
    assert all(len(comp.history(k)) <= 8 for k in range(25))
    assert len(det.likelihood.hist) <= 2000  # type: ignore[attr-defined]


def test_a_warm_default_watch_holds_a_few_dozen_kib() -> None:
    """10,000 warm series must fit in 1 GiB with the interpreter and the service:
    the numeric state is flat arrays, not Python floats or tuples per point
    (a warm watch held about 200 KiB of them before)."""
    t, x = _series(3000, shift_at=2500)
    make_watch().score_many(t[:50], x[:50])  # imports and caches outside the measurement
    gc.collect()
    tracemalloc.start()
    try:
        w = make_watch()
        w.score_many(t, x)
        assert not w.warming_up
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < 80 * 1024, f"{held / 1024:.0f} KiB"


def test_unknown_detector_and_bad_params_are_user_errors() -> None:
    with pytest.raises(SloplaneError):
        make_detector("nope")
    with pytest.raises(SloplaneError):
        make_detector("ewma", bogus=1)


@pytest.mark.integration
def test_cli_scores_every_row(tmp_path: Path) -> None:
    t, x = _series(300, shift_at=250)
    csv = tmp_path / "s.csv"
    stamps = np.datetime_as_string((t * 1e9).astype("datetime64[ns]"), unit="s")
    csv.write_text(
        "timestamp,value\n"
        + "".join(f"{a.replace('T', ' ')},{b:.4f}\n" for a, b in zip(stamps, x, strict=True))
    )
    cmd = [
        sys.executable,
        "-c",
        "from sloplane.cli import main; main()",
        "detect",
        "score",
        str(csv),
        "--detector",
        "ewma",
    ]
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    assert out[0] == "timestamp,value,anomaly_score"
    assert len(out) == 301
    first = out[1].split(",")
    assert first[0] == stamps[0].replace("T", " ") and first[1] == f"{x[0]:.4f}"
    again = subprocess.run(
        cmd, capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    assert again == out  # deterministic
    bad = subprocess.run(
        [*cmd[:3], "detect", "score", str(tmp_path / "missing.csv")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("ensemble", {"warmup": -5}, "params.warmup"),
        ("ensemble", {"signals": ["nope:1"]}, "params"),
        ("ensemble", {"signals": ["ewma:0"]}, "params"),
        ("ewma", {"alpha": 0}, "params.alpha"),
        ("ewma", {"learning": "many"}, "params.learning"),
        ("seasonal", {"bins": 0}, "params.bins"),
        ("cusum", {"h": -1}, "params.h"),
        ("context", {"levels": 1}, "params"),
        ("seasnal", {}, "detector"),
    ],
)
def test_parameters_are_range_checked(name: str, params: dict[str, Any], field: str) -> None:
    with pytest.raises(DetectorError) as info:
        make_detector(name, **params)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("content", "args", "error"),
    [
        (b"timestamp,value\n1,1\n2,abc\n", [], "s.csv:3: field 'value': not a number: 'abc'"),
        (b"timestamp,value\n1,1\n2,\n", [], "s.csv:3: field 'value': empty value"),
        (b"timestamp,value\nnoon,1\n", [], "s.csv:2: field 'timestamp': unparseable"),
        (b"\x89PNG\r\n\x1a\n\x00\xff\xfe\xc3", [], "s.csv: not UTF-8 text"),
        (b"timestamp,value\n1,1\n", ["--params", '{"warmup":-5}'], "--params.warmup: Input"),
        (b"timestamp,value\n1,1\n", ["--detector", "seasnal"], "--detector: unknown detector"),
    ],
)
def test_score_rejects_bad_input_with_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    args: list[str],
    error: str,
) -> None:
    from sloplane.cli import main

    csv = tmp_path / "s.csv"
    csv.write_bytes(content)
    with pytest.raises(SystemExit) as info:
        main(["detect", "score", str(csv), *args])
    assert info.value.code == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ") and error in line


def test_a_long_score_reports_progress_on_stderr_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sloplane.cli import main
    from sloplane.detectors import backtest

    monkeypatch.setattr(backtest, "PROGRESS_EVERY", 4)
    csv = tmp_path / "s.csv"
    csv.write_text("timestamp,value\n" + "".join(f"{i},{i % 3}\n" for i in range(10)))
    main(["detect", "score", str(csv), "--detector", "cusum"])
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "sloplane: scored 4 of 10 points",
        "sloplane: scored 8 of 10 points",
        "sloplane: scored 10 of 10 points",
    ]
    assert len(captured.out.splitlines()) == 11 and "sloplane" not in captured.out


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--plot", "/nonexistent/dir/x.png"], "--plot: cannot write /nonexistent/dir/x.png: no"),
        (["--plot", "/proc/x.png"], "--plot: cannot write /proc/x.png: "),
        (
            ["--detector", "ensemble", "--params", '{"warmupp": 3}'],
            "--params.warmupp: unknown parameter 'warmupp' (did you mean 'warmup'?)",
        ),
    ],
)
def test_backtest_option_mistakes_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    from sloplane.cli import main

    csv = tmp_path / "s.csv"
    csv.write_text("timestamp,value\n" + "".join(f"{i},{i % 3}\n" for i in range(10)))
    with pytest.raises(SystemExit) as info:
        main(["detect", "backtest", str(csv), "--detector", "cusum", *args])
    assert info.value.code == 1
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error")]
    assert line.startswith(f"error: {error}"), line


def test_score_accepts_explicit_nan_and_trailing_blank_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sloplane.cli import main

    csv = tmp_path / "s.csv"
    csv.write_text("timestamp,value\n1,1.50\n2,NaN\n3,2\n\n")
    main(["detect", "score", str(csv)])
    out = capsys.readouterr().out.splitlines()
    assert out[1:] == ["1,1.50,0.000000", "2,NaN,0.000000", "3,2,0.000000"]


@pytest.mark.parametrize(
    ("content", "warning", "rows"),
    [
        (b"timestamp,value\n1,1\n3,2\n2,3\n", "s.csv:4: field 'timestamp': '2' is not after", 3),
        (
            b"timestamp,value\n1,1\n1,2\n2,3\n2,4\n",
            "s.csv:3: field 'timestamp': '1' is not after the previous timestamp '1' (1 more",
            4,
        ),
    ],
)
def test_score_keeps_out_of_order_rows_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, warning: str, rows: int
) -> None:
    """NAB's own files repeat timestamps at clock changes: every row is scored, in file order."""
    from sloplane.cli import main

    csv = tmp_path / "s.csv"
    csv.write_bytes(content)
    main(["detect", "score", str(csv)])
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith("warning: ") and warning in line
    assert len(captured.out.splitlines()) == rows + 1


def test_spec_errors_cross_process_boundaries() -> None:
    """Benchmarks score files in worker processes; their errors must arrive intact."""
    import pickle

    from sloplane.errors import Problem, SpecError

    err = SpecError([Problem(file="s.csv", line=3, field="value", message="empty value")])
    back = pickle.loads(pickle.dumps(err))
    assert back.problems == err.problems and str(back) == str(err)


def test_date_times_become_exact_epoch_seconds() -> None:
    """Seasonal bins need real epoch seconds whatever unit pandas stores (ns or us)."""
    import pandas as pd

    from sloplane.detectors.backtest import to_epoch

    got = to_epoch(
        pd.Series(["2015-09-08 11:39:00", "2015-09-08T11:39:00.5+02:00", "1970-01-01 00:00:00"])
    )
    assert got.tolist() == [1441712340.0, 1441705140.5, 0.0]


def test_isolation_paths_score_like_scikit_learn() -> None:
    """The fast per-point scorer reads sklearn's fitted trees and must agree with it."""
    from sklearn.ensemble import IsolationForest

    from sloplane.detectors.forest import IsolationPaths

    rng = np.random.default_rng(3)
    forest = IsolationForest(n_estimators=30, max_samples=128, random_state=0)
    forest.fit(rng.normal(size=(600, 4)))
    paths = IsolationPaths(forest)
    points = np.vstack([rng.normal(size=(300, 4)) * 3, [[0, 0, 0, 0], [50, -50, 9, 1e6]]])
    batch = paths.anomaly_scores(points)
    assert np.allclose(batch, -forest.score_samples(points), rtol=0, atol=1e-12)
    one_by_one = [paths.anomaly_scores(points[i : i + 1])[0] for i in range(len(points))]
    assert np.array_equal(batch, one_by_one)


def test_a_component_that_starts_late_is_not_scored_as_unprecedented() -> None:
    """The forest first judges at point 300; its first judgements must build a
    record, not score 1.0 (which alerted 300 points into every series)."""
    from sloplane.detectors.base import RecordCalibrator

    cal = RecordCalibrator(warmup=100)
    scores = [cal.update(math.nan) for _ in range(300)] + [cal.update(1.0) for _ in range(100)]
    assert max(scores) == 0.0
    assert cal.update(5.0) > 0.8  # once it has a record, a real excess scores high

    rng = np.random.default_rng(7)
    t = 1_700_000_000 + 300.0 * np.arange(1500)
    x = 10 + rng.normal(0, 1, len(t))
    s = make_detector("ensemble", signals=("iforest:1",), spatial=False).score_many(t, x)
    assert s[300:450].max() < 0.9


def test_median_signals_ignore_a_lone_spike_but_not_a_shift() -> None:
    from sloplane.detectors.base import RecordCalibrator

    spike = RecordCalibrator(smooth=5, warmup=0, median=True)
    mean = RecordCalibrator(smooth=5, warmup=0)
    devs = [1.0] * 50 + [40.0] + [1.0] * 10
    median_scores = [spike.update(d) for d in devs]
    mean_scores = [mean.update(d) for d in devs]
    assert max(median_scores[50:]) < 0.55
    assert max(mean_scores[50:]) > 0.8
    shift = RecordCalibrator(smooth=5, warmup=0, median=True)
    assert max(shift.update(d) for d in [1.0] * 50 + [8.0] * 5) > 0.8


@pytest.mark.parametrize(
    ("signal", "parsed"),
    [
        ("cusum", ("cusum", 1, False)),
        ("ewma:5", ("ewma", 5, False)),
        ("seasonal:median10", ("seasonal", 10, True)),
    ],
)
def test_signals_are_parsed(signal: str, parsed: tuple[str, int, bool]) -> None:
    from sloplane.detectors.detectors import parse_signal

    assert parse_signal(signal) == parsed


@pytest.mark.parametrize("signal", ["ewma:median", "ewma:median0", "ewma:mean3", "nope:2"])
def test_bad_signals_are_parameter_errors(signal: str) -> None:
    with pytest.raises(DetectorError) as info:
        make_detector("ensemble", signals=[signal])
    assert info.value.field == "params"
