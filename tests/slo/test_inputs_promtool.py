"""Every new input kind's rules pass `promtool check rules`, and their generated unit tests pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from sloplane.artifacts import GenerateSettings
from sloplane.generate import write_artifacts
from sloplane.slo.loaders import load
from sloplane.slo.rules import compile_rules
from tests.support.processes import promtool

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parents[1] / "fixtures"
KINDS = {
    "openslo": [FIXTURES / "openslo"],
    "pyrra": [FIXTURES / "pyrra"],
    "slo_generator": [FIXTURES / "slo_generator"],
    "sloth": [FIXTURES / "sloth", FIXTURES / "sloth_windows"],
}


@pytest.mark.parametrize("label_mode", ["sloplane", "sloth"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_rules_check_and_unit_tests_pass(kind: str, label_mode: str, tmp_path: Path) -> None:
    period = 7 * 86400 if kind == "sloth" and label_mode == "sloth" else None
    catalog = load(KINDS[kind], sloth_period=period).catalog
    settings = GenerateSettings(label_mode=label_mode)  # type: ignore[arg-type]
    write_artifacts(tmp_path, compile_rules(catalog, settings))
    rule_files = sorted(str(p) for p in tmp_path.rglob("*.rules.yml"))
    assert len(rule_files) == len(catalog.slos)
    checked = promtool("check", "rules", *rule_files)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tests = sorted(str(p) for p in tmp_path.rglob("*.test.yml"))
    assert tests, "no unit tests generated"
    ran = promtool("test", "rules", *tests, cwd=tmp_path, timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
