"""detect.yaml validation: every mistake is one line naming the file, the object and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sloplane.cli import main
from sloplane.detect.config import load_config, parse_config
from sloplane.errors import SpecError

ACTIONS = [{"name": "a", "hook": {"kind": "keda"}}]


def _watch(**kw: Any) -> dict[str, Any]:
    return {"name": "w", "query": "up", **kw}


@pytest.mark.parametrize(
    ("raw", "where", "message"),
    [
        ({"watches": [_watch(detector="seasnal")]}, "watch 'w': field 'detector'", "seasnal"),
        (
            {"watches": [_watch(params={"bogus": 1})]},
            "watch 'w': field 'params.bogus'",
            "unknown parameter",
        ),
        (
            {"watches": [_watch(detector="ensemble", params={"warmup": -5})]},
            "watch 'w': field 'params.warmup'",
            "greater than or equal to 0",
        ),
        (
            {"watches": [_watch(step="1m", interval="30s")]},
            "watch 'w': field 'interval'",
            "shorter than step",
        ),
        ({"watches": [_watch(threshold=3)]}, "watch 'w': field 'threshold'", "less than"),
        ({"watches": [_watch(actions=["zz"])]}, "watch 'w': field 'actions'", "unknown action"),
        ({"watches": [_watch(), _watch()]}, "watch 'w': field 'name'", "unique"),
        (
            {"rollbacks": [{"name": "r", "burn_query": "x", "action": "zz", "deploy_target": "t"}]},
            "rollback 'r': field 'action'",
            "unknown action",
        ),
        ({"listen": "127.0.0.1:99999"}, "field 'listen'", "port from 1 to 65535"),
        ({"listen": "127.0.0.1"}, "field 'listen'", "host:port"),
    ],
)
def test_mistakes_are_one_line_naming_file_object_and_field(
    raw: dict[str, Any], where: str, message: str
) -> None:
    with pytest.raises(SpecError) as info:
        parse_config({"actions": ACTIONS, **raw}, "detect.yaml")
    (line,) = str(info.value).splitlines()
    assert line.startswith(f"detect.yaml: {where}: ") and message in line
    assert "Value error" not in line


def test_the_example_loads() -> None:
    cfg = load_config(Path(__file__).parents[2] / "examples" / "detect.yaml")
    assert cfg.guards.dry_run and cfg.watches


def test_serve_refuses_a_bad_detector_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "detect.yaml"
    cfg.write_text("watches:\n  - {name: w, query: up, detector: seasnal}\n")
    with pytest.raises(SystemExit) as info:
        main(["detect", "serve", "--config", str(cfg)])
    assert info.value.code == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {cfg}:2: watch 'w': field 'detector': unknown detector")


def test_the_examples_burn_query_selects_series_sloplane_records() -> None:
    """Every ``name{sloplane_id="..."}`` in the example is recorded for that SLO by generate."""
    import re

    from sloplane.slo.loaders import load
    from sloplane.slo.naming import Labels
    from sloplane.slo.rules.render import compile_rules

    root = Path(__file__).parents[2] / "examples"
    (rollback,) = load_config(root / "detect.yaml").rollbacks
    label = Labels().id
    selectors = re.findall(r"([a-z_:0-9]+)\{" + label + r'="([^"]+)"\}', rollback.burn_query)
    assert len(selectors) == 2
    rules = compile_rules(load([root / "slos"]).catalog)
    for name, slo_id in selectors:
        text = next(str(v) for k, v in rules.items() if Path(k).name.startswith(f"{slo_id}.rules"))
        assert f"record: {name}\n" in text, (name, slo_id)


def test_the_readme_config_loads(tmp_path: Path) -> None:
    """The README's short detect.yaml must stay a valid, complete configuration."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Anomaly detection on your Prometheus", 1)[1]
    snippet = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "detect.yaml"
    path.write_text(snippet)
    cfg = load_config(path)
    (watch,) = cfg.watches
    assert watch.detector == "ensemble" and cfg.guards.dry_run
    # the default false-alarm budget under the watch rules, not a raw threshold
    assert watch.threshold is None and watch.uses_rules and watch.direction == "up"
    assert watch.lower_bound == 0 and watch.runbook_url


# --- detect.yaml through `sloplane detect serve`: lines, fields, "did you mean" -------------

BAD_FIELDS = """\
prometheus:
  url: http://127.0.0.1:9090
  timout: 5s
watches:
  - name: checkout
    query: up
    threshhold: 0.5
  - name: search
    query: up
    step: soon
  - query: up
actions:
  - name: page
    hook:
      kind: webhook
guards: {dry_run: maybe}
"""

BAD_CROSS = """\
watches:
  - name: checkout
    query: up
    params:
      warmupp: 10
  - name: search
    query: up
    actions: [nope]
  - name: checkout
    query: up
actions:
  - name: a
    hook: {kind: keda}
rollbacks:
  - name: r
    burn_query: up
    action: zz
"""


def _serve(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """``sloplane detect serve`` on ``text``: exit 1, and only one ``error:`` line per problem."""
    cfg = tmp_path / "detect.yaml"
    cfg.write_text(text)
    with pytest.raises(SystemExit) as info:
        main(["detect", "serve", "--config", str(cfg)])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert all(line.startswith(f"error: {cfg}") for line in lines), err
    return [line.removeprefix(f"error: {cfg}") for line in lines]


def test_field_errors_name_the_line_the_object_and_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _serve(tmp_path, BAD_FIELDS, capsys) == [
        ":3: field 'prometheus.timout': unknown field 'timout' (did you mean 'timeout'?)",
        ":7: watch 'checkout': field 'threshhold': "
        "unknown field 'threshhold' (did you mean 'threshold'?)",
        ":10: watch 'search': field 'step': not a duration: 'soon' (use e.g. 30s, 5m, 1h)",
        ":11: watches[2]: field 'name': missing",
        ":14: action 'page': field 'hook.url': missing",
        ":16: field 'guards.dry_run': expected true or false, got text",
    ]


def test_cross_checks_name_the_line_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _serve(tmp_path, BAD_CROSS, capsys) == [
        ":5: watch 'checkout': field 'params.warmupp': "
        "unknown parameter 'warmupp' (did you mean 'warmup'?) (detector 'ensemble')",
        ":8: watch 'search': field 'actions': unknown action 'nope'",
        ":9: watch 'checkout': field 'name': watch names must be unique",
        ":15: rollback 'r': field 'deploy_target': needs deploy_time_query or deploy_target",
        ":17: rollback 'r': field 'action': unknown action 'zz'",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "watches:\n  - {name: w, query: up\n",
            ":3: YAML error: while parsing a flow mapping (opened on line 2): "
            "expected ',' or '}', but got '<stream end>'",
        ),
        ("watches:\n  - name: w\n  - name: w\n    name: v\n", ":4: YAML error: duplicate key"),
        ("- name: w\n  query: up\n", ":1: expected a mapping of settings at the top level"),
        ("just text\n", ":1: expected a mapping of settings at the top level, got str"),
        ("", ": the file is empty: expected a mapping of settings"),
        ("# nothing yet\n", ": the file is empty"),
        ("listen: 127.0.0.1:9310\n---\nlisten: 127.0.0.1:9311\n", ":3: expected one YAML document"),
    ],
)
def test_unreadable_files_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    (line,) = _serve(tmp_path, text, capsys)
    assert line.startswith(expected), line


def test_token_file_problems_name_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-token"
    (empty := tmp_path / "empty-token").write_text("  \n")
    (binary := tmp_path / "binary-token").write_bytes(b"\xff\xfe")
    text = "listen: 127.0.0.1:9310\napi:\n  read_only: false\n  token_file: {}\n"
    assert _serve(tmp_path, text.format(missing), capsys) == [
        ":4: field 'api.token_file': cannot read: No such file or directory"
    ]
    assert _serve(tmp_path, text.format(empty), capsys) == [
        ":4: field 'api.token_file': the file is empty"
    ]
    (line,) = _serve(tmp_path, text.format(binary), capsys)
    assert line.startswith(":4: field 'api.token_file': not UTF-8 text")


def test_a_missing_config_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SystemExit) as info:
        main(["detect", "serve", "--config", str(missing)])
    assert info.value.code == 1
    assert capsys.readouterr().err == f"error: {missing}: no such file or directory\n"


def test_the_cli_process_prints_no_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    cfg = tmp_path / "detect.yaml"
    cfg.write_text(BAD_FIELDS)
    proc = subprocess.run(
        [sys.executable, "-m", "sloplane.cli", "detect", "serve", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 6, proc.stderr
