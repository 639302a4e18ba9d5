"""AlertRouting problems through `sloplane validate`: one line each, at the line of the field,
with the field as written (``spec.teams...``), worded like SLO problems; exit 1, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sloplane.cli import main

ROOT = Path(__file__).resolve().parents[2]

SLO = """\
apiVersion: sloplane/v1
kind: SLO
spec:
  service: checkout
  name: availability
  objective: 99.9
  team: payments
  sli: {kind: events, errors: 'http_requests_total{code=~"5.."}', total: http_requests_total}
"""

BAD = """\
apiVersion: sloplane/v1
kind: AlertRouting
metadata:
  name: production
spec:
  defaults:
    page: {group_wait: soon}
  business_hours:
    weekdays: [funday]
    times:
      - {start: 9am, end: "17:00"}
  teams:
    payments:
      pagerduty:
        routing_key_fil: k
      slack: {api_url_file: f, channel: payments}
      tickets_in_business_hours: sometimes
  endpoint: {pagerduty_url: x}
"""

FIRST = """\
apiVersion: sloplane/v1
kind: AlertRouting
metadata: {name: a}
spec:
  defaults: {tickets_in_business_hours: true}
  teams:
    payments: {slack: {api_url_file: f}}
"""

SECOND = """\
apiVersion: sloplane/v1
kind: AlertRouting
metadata: {name: b}
spec:
  teams:
    platform: {slack: {api_url_file: f}}
    payments: {slack: {api_url_file: g}}
  defaults: {group_by: [cluster]}
"""


def _validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], **files: str
) -> tuple[Path, list[str]]:
    """``sloplane validate`` on an SLO plus ``files``: exit 1, one ``error:`` line per problem."""
    (tmp_path / "slo.yaml").write_text(SLO)
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    with pytest.raises(SystemExit) as info:
        main(["validate", str(tmp_path)])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert all(line.startswith(f"error: {tmp_path}/") for line in lines), err
    return tmp_path, [line.removeprefix(f"error: {tmp_path}/") for line in lines]


def test_field_problems_name_their_line_and_the_field_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, lines = _validate(tmp_path, capsys, routing=BAD)
    at = "routing.yaml:{}: AlertRouting production: field 'spec.{}': {}"
    assert lines == [
        at.format(
            7,
            "defaults.page.group_wait",
            "invalid duration 'soon': use a number followed by s, m, h, d or w, e.g. 30d or 1h30m",
        ),
        at.format(
            9, "business_hours.weekdays", "'funday' is not a weekday or range like monday:friday"
        ),
        at.format(11, "business_hours.times[0].start", "'9am' is not a time of day like 09:00"),
        at.format(14, "teams.payments.pagerduty.routing_key_file", "missing"),
        at.format(
            15,
            "teams.payments.pagerduty.routing_key_fil",
            "unknown field 'routing_key_fil' (did you mean 'routing_key_file'?)",
        ),
        at.format(
            16,
            "teams.payments.slack.channel",
            "a Slack channel starts with '#' (or '@' for a user)",
        ),
        at.format(
            17, "teams.payments.tickets_in_business_hours", "expected true or false, got text"
        ),
        at.format(18, "endpoint", "unknown field 'endpoint' (did you mean 'endpoints'?)"),
    ]


def test_documents_that_clash_name_both_places(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, lines = _validate(tmp_path, capsys, a=FIRST, b=SECOND)
    assert lines == [
        "b.yaml:7: AlertRouting b: field 'spec.teams.payments': "
        f"team 'payments' is already routed in {root}/a.yaml:7",
        "b.yaml:8: AlertRouting b: field 'spec.defaults': "
        f"defaults is set in more than one AlertRouting document (also in {root}/a.yaml:5)",
    ]


HEAD = "apiVersion: sloplane/v1\nkind: AlertRouting\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            HEAD + "spec:\n  teams:\n    bad team: {}\n",
            "routing.yaml:4: AlertRouting: field 'spec.teams': 'bad team' is not a valid team name",
        ),
        (
            HEAD + "spec:\n  teams: [payments]\n",
            "routing.yaml:4: AlertRouting: field 'spec.teams': expected a mapping, got a list",
        ),
        (
            HEAD + "spec: [teams]\n",
            "routing.yaml:3: AlertRouting: field 'spec': expected a mapping, got a list",
        ),
        (
            HEAD + "metadata: {name: empty}\nspec:\n",
            "routing.yaml:4: AlertRouting empty: field 'spec': expected a mapping, got nothing",
        ),
        (HEAD, "routing.yaml:1: AlertRouting: field 'spec': missing"),
        (
            HEAD + "spec:\n  teams: {payments: {slack: {api_url_file: f}}\n",
            "routing.yaml:5: YAML error: while parsing a flow mapping (opened on line 4): "
            "expected ',' or '}', but got '<stream end>'",
        ),
        (
            HEAD + "spec:\n  teams: {}\n  teams: {}\n",
            "routing.yaml:5: YAML error: duplicate key 'teams' in a mapping",
        ),
        ("- " + HEAD.replace("\n", "\n  ", 1), "routing.yaml:1: not a recognised document"),
    ],
)
def test_each_unusable_document_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    _, lines = _validate(tmp_path, capsys, routing=text)
    (line,) = lines
    assert line.startswith(expected), line


def test_generate_reports_the_same_lines(tmp_path: Path) -> None:
    (tmp_path / "slo.yaml").write_text(SLO)
    (tmp_path / "routing.yaml").write_text(BAD)
    proc = subprocess.run(
        [sys.executable, "-m", "sloplane.cli", "generate", str(tmp_path), "--out", "out"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 1, proc
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 8, proc.stderr
    assert f"error: {tmp_path}/routing.yaml:15: AlertRouting production: field " in errors[4]
    assert not (tmp_path / "out").exists()
