"""`sloplane detect backtest --prometheus-url`: back-tests over a real Prometheus range.

The Prometheus runs on a TSDB backfilled with ``promtool tsdb create-blocks-from
openmetrics`` (tests/support/processes.py): twelve hours at one sample a minute
of a series with a level shift, a flat series with NaN samples and a gap, and two
series whose labels make the same readable file name.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from sloplane.clients.prometheus import PrometheusClient, PrometheusError
from sloplane.detectors.backtest import (
    PROMETHEUS_MAX_POINTS,
    from_prometheus,
    parse_step,
    parse_time,
    plot_filename,
    plot_filenames,
    read_prometheus,
    run,
)
from sloplane.detectors.labels import format_labels
from tests.detectors.conftest import controlled_metric
from tests.support.processes import (
    Prometheus,
    backfill_openmetrics,
    free_port,
    prometheus_config,
    run_prometheus,
)

STEP = 60
POINTS = 720
SHIFT_AT = 540
NAN_AT = range(100, 105)
GAP = range(300, 340)  # no samples: longer than the 5m lookback
# The newest sample, on the minute grid: a fixed epoch would fall out of retention.
END = int(time.time()) // STEP * STEP - 2 * STEP
START = END - (POINTS - 1) * STEP


def _history() -> str:
    rng = random.Random(11)
    lines = ["# TYPE bt_value gauge"]
    for i in range(POINTS):
        t = START + i * STEP
        shift = 10 + rng.gauss(0, 0.5) + (8 if i >= SHIFT_AT else 0)
        lines.append(f'bt_value{{series="shift"}} {shift!r} {t}')
        if i not in GAP:
            flat = "NaN" if i in NAN_AT else "5.0"
            lines.append(f'bt_value{{series="flat"}} {flat} {t}')
    lines.append("# TYPE bt_path gauge")
    for i in range(POINTS):
        t = START + i * STEP
        lines.append(f'bt_path{{path="/a"}} 1.0 {t}')
        lines.append(f'bt_path{{path="_a"}} 2.0 {t}')
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    data = tmp_path_factory.mktemp("backtest-tsdb") / "data"
    backfill_openmetrics(_history(), data)
    with run_prometheus(prometheus_config(), data_dir=data) as p:
        yield p


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from sloplane.cli import main

    code = 0
    try:
        main(["detect", "backtest", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def _blocks(out: str) -> dict[str, list[str]]:
    """The CLI's output per series: the summary line, then its indented lines."""
    blocks: dict[str, list[str]] = {}
    current: list[str] = []
    for line in out.splitlines()[1:]:
        if line.startswith("  "):
            current.append(line.strip())
        else:
            name, _, summary = line.rpartition(": ")
            current = blocks[name] = [summary]
    return blocks


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_a_level_shift_is_flagged_a_flat_series_is_not_and_each_series_gets_a_png(
    prom: Prometheus, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plots = tmp_path / "plots"
    code, out, err = _cli(
        [
            "--prometheus-url",
            prom.url,
            "--query",
            "bt_value",
            "--start",
            _iso(START),
            "--end",
            str(END),
            "--step",
            "1m",
            "--plot-dir",
            str(plots),
        ],
        capsys,
    )
    assert code == 0, err
    assert err == ""
    assert out.splitlines()[0] == (
        f"2 series between {_iso(START)} and {_iso(END)} at step 1m, {POINTS} points each"
    )
    blocks = _blocks(out)
    shift, flat = blocks['bt_value{series="shift"}'], blocks['bt_value{series="flat"}']

    # the shift: flagged within five points of where it happens, by the default ensemble
    assert shift[0].endswith(f"of {POINTS} points at or above 0.55")
    flagged_at = [
        datetime.fromisoformat(line.split(",")[0]).timestamp()
        for line in shift[1:]
        if not line.startswith("plot")
    ]
    shift_t = START + SHIFT_AT * STEP
    assert any(shift_t <= t <= shift_t + 5 * STEP for t in flagged_at), shift

    # the flat series: nothing flagged; its NaN samples and its gap are points without a value
    assert flat[0].startswith(f"0 of {POINTS} points at or above 0.55 (")
    missing = int(flat[0].split("(")[1].split()[0])
    assert len(NAN_AT) + len(GAP) - 6 <= missing <= len(NAN_AT) + len(GAP)

    pngs = sorted(plots.iterdir())
    expected = sorted(
        plot_filename({"__name__": "bt_value", "series": s}) for s in ("shift", "flat")
    )
    assert [p.name for p in pngs] == expected
    assert all(p.stat().st_size > 5000 and p.read_bytes()[:4] == b"\x89PNG" for p in pngs)
    assert f"plot written to {plots / expected[1]}" in shift
    assert f"plot written to {plots / expected[0]}" in flat


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_series_with_the_same_readable_name_get_different_files(
    prom: Prometheus, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """path="/a" and path="_a" both read as bt_path,path=_a: the label hash tells them apart."""
    code, out, err = _cli(
        [
            "--prometheus-url",
            prom.url,
            "--query",
            "bt_path",
            "--start",
            str(END - 3600),
            "--end",
            str(END),
            "--step",
            "60",
            "--detector",
            "ewma",
            "--plot-dir",
            str(tmp_path),
        ],
        capsys,
    )
    assert code == 0, err
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(names) == 2
    assert all(n.startswith("bt_path,path=_a-") for n in names)
    assert set(_blocks(out)) == {'bt_path{path="/a"}', 'bt_path{path="_a"}'}


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_a_range_over_prometheus_limit_is_read_in_chunks_on_one_grid(
    prom: Prometheus, capsys: pytest.CaptureFixture[str]
) -> None:
    step = 3.0
    n = int((END - START) / step) + 1
    assert n > PROMETHEUS_MAX_POINTS
    unchunked = PrometheusClient(prom.url, max_points=10**9)  # as Prometheus itself sees it
    with pytest.raises(PrometheusError, match="exceeded maximum resolution of 11,000 points"):
        unchunked.range('bt_value{series="shift"}', START, END, step)

    (series,) = read_prometheus(prom.url, 'bt_value{series="shift"}', START, END, step)
    df = series.frame
    assert len(df) == n
    assert np.array_equal(df["epoch"].to_numpy(), START + step * np.arange(n))
    assert not df["value"].isna().any()
    # every sample time reads that sample, across the chunk boundary too
    direct = PrometheusClient(prom.url).range('bt_value{series="shift"}', START, END, 60)
    on_samples = df[(df["epoch"] - START) % 60 == 0]
    assert on_samples["value"].tolist() == [v for _, v in direct[0].points]

    code, out, err = _cli(
        [
            *("--prometheus-url", prom.url, "--query", 'bt_value{series="shift"}'),
            *("--start", str(START), "--end", str(END), "--step", "3s", "--detector", "ewma"),
        ],
        capsys,
    )
    assert code == 0, err
    assert out.splitlines()[0].endswith(f"at step 3s, {n} points each")


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_nan_and_missing_points_score_zero_and_teach_nothing(prom: Prometheus) -> None:
    frames = from_prometheus(prom.url, 'bt_value{series="flat"}', START, END, STEP)
    (df,) = frames.values()
    assert list(frames) == ['bt_value{series="flat"}']
    assert df["value"].iloc[list(NAN_AT)].isna().all()
    assert df["value"].iloc[GAP.start + 6 : GAP.stop].isna().all()
    # a noisy, shifted copy with the same NaN rows: they must not change the other scores
    shifted = df.copy()
    noise = np.random.default_rng(5).normal(0, 0.5, len(df)) + np.where(df.index >= 600, 8, 0)
    shifted["value"] += noise
    scored = run(shifted, "ewma", {"learning": 20})
    assert (scored["anomaly_score"][shifted["value"].isna()] == 0).all()
    finite = shifted[shifted["value"].notna()].reset_index(drop=True)
    alone = run(finite, "ewma", {"learning": 20})
    assert np.array_equal(
        scored["anomaly_score"][shifted["value"].notna()].to_numpy(),
        alone["anomaly_score"].to_numpy(),
    )
    assert alone["anomaly_score"].max() > 0.9  # the detector is not simply silent


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_a_stale_series_is_missing_points_not_a_repeated_value() -> None:
    """Once a target is gone Prometheus marks its series stale; the range has no value there,
    where without staleness the last value would be repeated for five minutes."""
    with contextlib.ExitStack() as metric_stack:
        metric = metric_stack.enter_context(controlled_metric("bt_stale"))
        metric.set(7.0)
        config = prometheus_config([f"127.0.0.1:{metric.port}"], scrape_interval="200ms")
        with run_prometheus(config) as p:
            deadline = time.monotonic() + 20
            while not p.query("bt_stale") and time.monotonic() < deadline:
                time.sleep(0.1)
            start = time.time()
            time.sleep(1.5)
            metric_stack.close()  # the target goes away: the next scrape fails
            stopped = time.time()
            time.sleep(2.0)
            (series,) = read_prometheus(p.url, "bt_stale", start, time.time(), 0.1)
    df = series.frame
    before, after = df[df["epoch"] < stopped], df[df["epoch"] > stopped + 1.0]
    assert (before["value"] == 7.0).sum() >= 10
    assert len(after) >= 5 and after["value"].isna().all()
    assert (run(df, "ewma", {"learning": 3})["anomaly_score"][df["value"].isna()] == 0).all()


@pytest.mark.integration
@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--query", "bt_value{", "--start", "-1h", "--step", "1m"], "parse error"),
        (
            ["--query", "no_such_metric", "--start", "-1h", "--step", "1m"],
            "query 'no_such_metric' returned no series between ",
        ),
        (
            ["--query", "bt_value", "--start", "-30d", "--step", "1s"],
            "is 2,592,001 points per series, more than --max-points 1,000,000",
        ),
        (
            ["--query", "bt_value", "--start", "-1h", "--step", "1m", "--max-points", "60"],
            "is 61 points per series, more than --max-points 60",
        ),
        (["--query", "bt_value", "--start", "now", "--end", "-1h", "--step", "1m"], "is after"),
        (["--query", "bt_value", "--start", "yesterday", "--step", "1m"], "--start: not a time"),
        (
            ["--query", "bt_value", "--start", "2026-01-02T03:04:05", "--step", "1m"],
            "--start: '2026-01-02T03:04:05' has no time zone",
        ),
        (["--query", "bt_value", "--start", "-1h", "--step", "0s"], "--step: not a positive"),
        (["--query", "bt_value", "--start", "-1h", "--step", "5x"], "--step: not a duration"),
        (["--query", "bt_value", "--start", "-1h"], "--prometheus-url needs --step"),
        (
            ["--query", "bt_value", "--start", "-1h", "--step", "1m", "--plot", "x.png"],
            "with --prometheus-url use --plot-dir",
        ),
        (
            ["--query", "bt_value", "--start", "-1h", "--step", "1m", "--detector", "ewmaa"],
            "--detector: unknown detector 'ewmaa'",
        ),
        (
            ["--query", "bt_value", "--start", "-1h", "--step", "1m", "--params", '{"alfa": 1}'],
            "--params.alfa: unknown parameter",
        ),
    ],
)
def test_prometheus_problems_are_one_line_with_exit_1(
    prom: Prometheus, capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    code, out, err = _cli(["--prometheus-url", prom.url, *args], capsys)
    assert code == 1
    (line,) = err.splitlines()
    assert line.startswith("error: ") and error in line, line
    assert out == ""


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_prometheus_text_is_in_the_error(
    prom: Prometheus, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _cli(
        [
            *("--prometheus-url", prom.url, "--query", "rate(bt_value[5m]"),
            *("--start", "-1h", "--step", "1m"),
        ],
        capsys,
    )
    assert code == 1
    assert err == (
        f"error: prometheus {prom.url}: HTTP 400: bad_data 1:18: parse error: "
        "unclosed left parenthesis\n"
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["data.csv", "--prometheus-url", "http://127.0.0.1:9"], "not both"),
        ([], "give a CSV FILE or --prometheus-url"),
        (["data.csv", "--query", "up"], "--query needs --prometheus-url"),
        (["data.csv", "--plot-dir", "plots"], "--plot-dir needs --prometheus-url"),
        (
            [
                "--prometheus-url",
                "127.0.0.1:9090",
                "--query",
                "up",
                "--start",
                "-1h",
                "--step",
                "1m",
            ],
            "is not an http:// or https:// URL",
        ),
        (
            ["--prometheus-url", "UNREACHABLE", "--query", "up", "--start", "-1h", "--step", "1m"],
            "Connection refused",
        ),
        (
            [
                *("--prometheus-url", "UNREACHABLE", "--query", "up"),
                *("--start", "-1h", "--step", "1m", "--timeout", "soon"),
            ],
            "--timeout: not a duration",
        ),
    ],
)
def test_wrong_combinations_and_an_unreachable_prometheus_are_one_line_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    (tmp_path / "data.csv").write_text("timestamp,value\n1,1\n")
    unreachable = f"http://127.0.0.1:{free_port()}"
    args = [
        str(tmp_path / a) if a == "data.csv" else unreachable if a == "UNREACHABLE" else a
        for a in args
    ]
    code, out, err = _cli(args, capsys)
    assert code == 1
    (line,) = err.splitlines()
    assert line.startswith("error: ") and error in line, line
    assert out == ""


def test_plot_file_names_are_safe_deterministic_and_distinct() -> None:
    tricky = [
        {"__name__": "up", "path": "/a"},
        {"__name__": "up", "path": "_a"},
        {"__name__": "up", "path": "?a"},
        {"__name__": "up", "a": "1,b=2"},
        {"__name__": "up", "a": "1", "b": "2"},
        {"__name__": "up", "job": "API"},
        {"__name__": "up", "job": "api"},
        {"__name__": "up", "job": "../../etc/passwd"},
        {"__name__": "up", "job": "x" * 500},
        {"__name__": "up", "job": "x" * 501},
        {"__name__": "up", "job": "démo ü\n\x00"},
        {"job": "api"},
        {"__name__": "up"},
        {},
        {"v": ""},
        {"v": "-rf"},
        {"v": "."},
        {"v": ".."},
    ]
    names = plot_filenames(tricky)
    assert names == plot_filenames(tricky)  # deterministic
    assert names == [plot_filename(labels) for labels in tricky]
    assert len({n.lower() for n in names}) == len(tricky)  # distinct, even ignoring case
    for n in names:
        assert n.endswith(".png") and len(n.encode()) <= 255
        assert set(n) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._=,+-")
        assert not n.startswith((".", "-"))
    assert names[0].startswith("up,path=_a-") and names[1].startswith("up,path=_a-")
    assert plot_filename({}).startswith("series-")


def test_a_forced_hash_collision_still_gets_distinct_names(monkeypatch: pytest.MonkeyPatch) -> None:
    from sloplane.detectors import backtest

    monkeypatch.setattr(backtest, "plot_filename", lambda labels: "same-000000000000.png")
    assert plot_filenames([{"a": "1"}, {"a": "2"}, {"a": "3"}]) == [
        "same-000000000000.png",
        "same-000000000000-2.png",
        "same-000000000000-3.png",
    ]


def test_series_names_are_promql_and_unambiguous() -> None:
    assert format_labels({"__name__": "up", "job": "a", "i": "x"}) == 'up{i="x", job="a"}'
    assert format_labels({"__name__": "up"}) == "up"
    assert format_labels({}) == "{}"
    assert format_labels({"a": '1", b="2'}) != format_labels({"a": "1", "b": "2"})
    assert format_labels({"a": "1,b=2"}) != format_labels({"a": "1", "b": "2"})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("now", 1_000_000.0),
        ("  NOW ", 1_000_000.0),
        ("-7d", 1_000_000.0 - 7 * 86400),
        ("now-1h30m", 1_000_000.0 - 5400),
        ("now - 90s", 1_000_000.0 - 90),
        ("-300", 1_000_000.0 - 300),
        ("-500ms", 1_000_000.0 - 0.5),
        ("1767323045", 1767323045.0),
        ("1767323045.25", 1767323045.25),
        ("2026-01-02T03:04:05Z", 1767323045.0),
        ("2026-01-02t03:04:05z", 1767323045.0),
        ("2026-01-02T05:04:05+02:00", 1767323045.0),
        ("2026-01-02T03:04:05.5Z", 1767323045.5),
        ("2026-01-02 03:04:05Z", 1767323045.0),
    ],
)
def test_times(text: str, seconds: float) -> None:
    assert parse_time(text, now=1_000_000.0) == seconds


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "now+1h",
        "nowish",
        "-",
        "-1y",
        "2026-01-02",
        "2026-13-02T00:00:00Z",
        "inf",
        "nan",
    ],
)
def test_bad_times(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text, now=1_000_000.0)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("5m", 300.0), ("1h30m", 5400.0), ("200ms", 0.2), ("15", 15.0), ("0.5", 0.5)],
)
def test_steps(text: str, seconds: float) -> None:
    assert parse_step(text) == seconds
    assert math.isclose(parse_step(text) * 1000, round(seconds * 1000))


@pytest.mark.parametrize("text", ["0", "0s", "-5s", "5x", "1.5ms", "0.0001", "inf", "nan", ""])
def test_bad_steps(text: str) -> None:
    with pytest.raises(ValueError):
        parse_step(text)
