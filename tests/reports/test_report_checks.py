"""`sloplane report` refuses unfinished weeks and unknown scopes with one line, exit 1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sloplane.cli import main
from sloplane.reports.collect import ScopeError, UnknownScope, select_slos
from sloplane.reports.weeks import WeekError, ensure_ended, week_of
from tests.api.dataset import CATALOG
from tests.support.processes import free_port

EXAMPLES = str(Path(__file__).resolve().parents[2] / "examples" / "slos")


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main(["report", "--slos", EXAMPLES, *args])
    return int(exited.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--week", "2030-W46"], "week 2030-W46 has not ended yet in UTC"),
        (["--week", "2026-W46", "--scope", "team:nobody"], "no SLOs for team 'nobody'"),
        (["--week", "2026-W46", "--scope", "service:nope"], "no SLOs for service 'nope'"),
        (["--week", "2026-W46", "--scope", "galaxy:x"], "invalid scope 'galaxy:x'"),
        (["--week", "2026-W46", "--timezone", "Mars/Olympus"], "unknown timezone"),
    ],
)
def test_cli_refuses(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the backend is never asked: a closed loopback port would fail the run otherwise
    code, err = _run(
        [*args, "--prometheus-url", "http://127.0.0.1:9", "--out", str(tmp_path / "o")], capsys
    )
    assert code == 1
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_a_missing_slos_path_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # click's exists=True printed a usage block and exited 2; validate says it in one line
    missing = tmp_path / "nope"
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "report",
                "--slos",
                str(missing),
                "--week",
                "2026-W46",
                "--prometheus-url",
                "http://127.0.0.1:9",
                "--out",
                str(tmp_path / "o"),
            ]
        )
    assert exited.value.code == 1
    assert capsys.readouterr().err == f"error: {missing}: no such file or directory\n"
    assert not (tmp_path / "o").exists()


def test_unknown_scope_is_a_scope_error() -> None:
    with pytest.raises(UnknownScope):
        select_slos(CATALOG, "team:nobody")
    with pytest.raises(ScopeError):
        select_slos(CATALOG, "team:")
    assert [s.id for s in select_slos(CATALOG, "service:search")] == ["search-availability"]


@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)),
    st.sampled_from(["UTC", "America/Los_Angeles", "Pacific/Kiritimati", "Asia/Kolkata"]),
)
def test_a_week_is_reportable_exactly_when_it_ended_in_its_timezone(
    moment: datetime, tz: str
) -> None:
    now = moment.replace(tzinfo=UTC)
    local = now.astimezone(ZoneInfo(tz))
    for candidate in (week_of(local), week_of(local - timedelta(days=1)), week_of(now)):
        if candidate < week_of(local):  # ISO week strings sort chronologically
            ensure_ended(candidate, tz, now)
        else:
            with pytest.raises(WeekError):
                ensure_ended(candidate, tz, now)


def test_report_with_an_unreachable_database_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql://postgres:hunter2@127.0.0.1:{port}/reports"
    args = ["report", "--slos", EXAMPLES, "--prometheus-url", "http://127.0.0.1:9"]
    args += ["--week", "2020-W01", "--out", str(tmp_path), "--database-url", url]
    with pytest.raises(SystemExit) as exited:
        main(args)
    err = capsys.readouterr().err
    assert exited.value.code == 1 and err.count("\n") == 1, err
    assert err.startswith(f"error: database postgresql://postgres:***@127.0.0.1:{port}/reports: ")
    assert "hunter2" not in err and "Traceback" not in err
