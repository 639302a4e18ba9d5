"""exporters.yaml problems through `sloplane exporter`: one line each, naming file, line,
object and field as written, worded like SLO problems; exit 1 and no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sloplane.errors import SpecError
from sloplane.exporters.config import load_config

ROOT = Path(__file__).resolve().parents[2]

BAD_FIELDS = """\
listen: 127.0.0.1:9465
modules:
  pg:
    kind: postgres
    pasword: x
    timeout_seconds: 0
  web:
    kind: htp
  cache:
    kind: redis
    tls: maybe
  db:
    kind: postgres
    sslmode: requir
targets:
  - name: pg
    module: pg
  - name: cache
    module: redis
    adress: localhost:6379
probe_cach_size: 10
"""

BAD_TARGETS = """\
modules:
  pg: {kind: postgres}
targets:
  - {name: a, module: pg, address: "db:5432"}
  - {name: a, module: pg, address: "db2:5432"}
  - {name: b, module: pgg, address: "db:5432"}
  - {name: c, module: redis, address: "redis://h:6379"}
  - {name: d, module: http, address: "http://h/x?token=canary-pw"}
"""


def _exporter(tmp_path: Path, text: str) -> list[str]:
    """``sloplane exporter --once`` on ``text``: exit 1, one ``error:`` line per problem."""
    cfg = tmp_path / "exporters.yaml"
    cfg.write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "sloplane.cli", "exporter", "--config", str(cfg), "--once"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 1, proc
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert all(line.startswith(f"error: {cfg}") for line in lines), proc.stderr
    return [line.removeprefix(f"error: {cfg}") for line in lines]


def test_field_errors_name_the_line_the_object_and_the_field(tmp_path: Path) -> None:
    assert _exporter(tmp_path, BAD_FIELDS) == [
        ":5: module 'pg': field 'pasword': unknown field 'pasword' (did you mean 'password'?)",
        ":6: module 'pg': field 'timeout_seconds': Input should be greater than 0",
        ":8: module 'web': field 'kind': unknown kind 'htp' (did you mean 'http'?); "
        "the kinds are postgres, pgbouncer, redis, rabbitmq, http",
        ":11: module 'cache': field 'tls': expected true or false, got text",
        ":14: module 'db': field 'sslmode': expected 'disable', 'allow', 'prefer', 'require', "
        "'verify-ca' or 'verify-full', got 'requir' (did you mean 'require'?)",
        ":16: target 'pg': field 'address': missing",
        ":18: target 'cache': field 'address': missing",
        ":20: target 'cache': field 'adress': unknown field 'adress' (did you mean 'address'?)",
        ":21: field 'probe_cach_size': unknown field 'probe_cach_size' "
        "(did you mean 'probe_cache_size'?)",
    ]


def test_targets_are_checked_together_and_located(tmp_path: Path) -> None:
    lines = _exporter(tmp_path, BAD_TARGETS)
    assert lines == [
        ":5: target 'a': field 'name': target names must be unique",
        ":6: target 'b': field 'module': no module 'pgg' (did you mean 'pg'?)",
        ":7: target 'c': field 'address': redis target is host[:port], not a URL: 'redis://h:6379'",
        ":8: target 'd': field 'address': credentials are not accepted in the target's query "
        "string (token); use the module's headers, basic_auth or bearer_token_file",
    ]
    assert not any("canary-pw" in line for line in lines)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "modules:\n  pg: [kind: postgres\n",
            ":3: YAML error: while parsing a flow sequence (opened on line 2): "
            "expected ',' or ']', but got '<stream end>'",
        ),
        (
            "modules:\n  pg: {kind: postgres}\n  pg: {kind: redis}\n",
            ":3: YAML error: duplicate key",
        ),
        ("- name: pg\n", ":1: expected a mapping of settings at the top level, got a list"),
        ("", ": the file is empty: expected a mapping of settings"),
        ("listen: :9465\n---\nlisten: :9466\n", ":3: expected one YAML document, found 2"),
    ],
)
def test_unreadable_files_are_one_line(tmp_path: Path, text: str, expected: str) -> None:
    (line,) = _exporter(tmp_path, text)
    assert line.startswith(expected), line


def test_a_missing_config_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_config(tmp_path / "nope.yaml")
    assert str(info.value) == f"{tmp_path / 'nope.yaml'}: no such file or directory"


def test_a_module_named_like_a_kind_keeps_its_name(tmp_path: Path) -> None:
    # pydantic's loc is modules.postgres.postgres.pasword: only the second one is the union tag
    cfg = tmp_path / "exporters.yaml"
    cfg.write_text("modules:\n  postgres:\n    kind: postgres\n    pasword: x\n")
    with pytest.raises(SpecError) as info:
        load_config(cfg)
    (problem,) = info.value.problems
    assert (problem.line, problem.obj, problem.field) == (4, "module 'postgres'", "pasword")


BAD_PROBE = """\
probe:
  enabled: please
  builtin_modules: [postgres, htp]
  max_concurrent: 0
  max_concurent: 3
"""


def test_probe_settings_errors_name_the_field(tmp_path: Path) -> None:
    lines = _exporter(tmp_path, BAD_PROBE)
    assert len(lines) == 4, lines
    assert lines[0].startswith(":2: field 'probe.enabled': expected true or false"), lines
    assert lines[1].startswith(":3: field 'probe.builtin_modules[1]': "), lines
    assert "'htp'" in lines[1] and "did you mean 'http'" in lines[1], lines
    assert lines[2].startswith(":4: field 'probe.max_concurrent': "), lines
    assert lines[3].startswith(":5: field 'probe.max_concurent': unknown field"), lines


def test_probe_is_off_by_default_and_every_builtin_module_is_listed(tmp_path: Path) -> None:
    cfg = tmp_path / "exporters.yaml"
    cfg.write_text("{}\n")
    probe = load_config(cfg).probe
    assert probe.enabled is False
    assert probe.builtin_modules == ["postgres", "pgbouncer", "redis", "rabbitmq", "http"]
