"""Stack rules: promtool checks and unit-tests them; every metric they use is one we expose."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from sloplane.exporters.metrics_catalog import KNOWN_METRICS, PLUGIN_SERIES
from sloplane.exporters.rules import stack_rule_files
from tests.support.processes import promtool

REQUIRED_ALERTS = {
    "PostgresDown",
    "PostgresReplicationLag",
    "PostgresConnectionsNearLimit",
    "RedisDown",
    "RedisMemoryNearMax",
    "RedisEvictingKeys",
    "RabbitMQDown",
    "RabbitMQQueueBacklogGrowing",
    "RabbitMQQueueWithoutConsumers",
    "ProbeFailing",
    "CertificateExpiringSoon",
}


def write(tmp_path: Path) -> dict[str, Path]:
    written = {}
    for rel, content in stack_rule_files().items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        written[rel] = path
    return written


@pytest.mark.integration  # promtool
def test_rule_files_pass_promtool_check_and_unit_tests(tmp_path: Path) -> None:
    files = write(tmp_path)
    rules = sorted(str(p) for rel, p in files.items() if not rel.endswith(".test.yml"))
    tests = sorted(str(p) for rel, p in files.items() if rel.endswith(".test.yml"))
    assert len(rules) == len(tests) == 5
    check = promtool("check", "rules", *rules)
    assert check.returncode == 0, check.stdout + check.stderr
    run = promtool("test", "rules", *tests, cwd=tmp_path / "stack")
    assert run.returncode == 0, run.stdout + run.stderr


def test_alerts_name_the_target_not_the_exporter() -> None:
    """On the exporter's /metrics, instance is the exporter; the target label names the server."""
    files = stack_rule_files()
    tests = yaml.safe_load(files["stack/postgres.rules.test.yml"])
    summaries = [
        alert["exp_annotations"]["summary"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        for alert in case["exp_alerts"]
    ]
    assert "PostgreSQL main-db does not answer the exporter" in summaries
    assert "PostgreSQL db:9187 does not answer the exporter" in summaries
    assert not any("127.0.0.1:9465" in s for s in summaries)


def test_severities_are_the_ones_alertmanager_routes() -> None:
    severities = set()
    for rel, content in stack_rule_files().items():
        if rel.endswith(".test.yml"):
            continue
        for group in yaml.safe_load(content)["groups"]:
            severities.update(r["labels"]["severity"] for r in group["rules"] if "alert" in r)
    assert severities == {"page", "ticket"}


def test_generation_is_deterministic() -> None:
    assert stack_rule_files() == stack_rule_files()


def test_required_alerts_exist_and_each_has_a_test() -> None:
    alerts: set[str] = set()
    tested: set[str] = set()
    for rel, content in stack_rule_files().items():
        doc = yaml.safe_load(content)
        if rel.endswith(".test.yml"):
            for test in doc["tests"]:
                tested.update(t["alertname"] for t in test.get("alert_rule_test", []))
        else:
            for group in doc["groups"]:
                alerts.update(r["alert"] for r in group["rules"] if "alert" in r)
    assert alerts >= REQUIRED_ALERTS
    assert alerts == tested


def test_rules_only_use_metrics_the_exporters_expose() -> None:
    known = {name for names in [*KNOWN_METRICS.values(), *PLUGIN_SERIES.values()] for name in names}
    recorded: set[str] = set()
    used: set[str] = set()
    for rel, content in stack_rule_files().items():
        if rel.endswith(".test.yml"):
            continue
        for group in yaml.safe_load(content)["groups"]:
            for rule in group["rules"]:
                if "record" in rule:
                    recorded.add(rule["record"])
                # Label lists of by/without/on/ignoring name labels, not metrics.
                expr = re.sub(
                    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
                    "",
                    rule["expr"],
                )
                used.update(
                    re.findall(
                        r"(?<![:\w])((?:pg|pgbouncer|redis|rabbitmq|http_probe)_\w+)(?![:\w])",
                        expr,
                    )
                )
                used.update(
                    n for n in re.findall(r"\b([a-z_]+:[a-z_]+:[a-z0-9_]+)\b", rule["expr"])
                )
    assert used - known - recorded == set()


@pytest.mark.integration  # promtool
def test_example_slos_compile_to_rules_promtool_accepts(tmp_path: Path) -> None:
    """The example SLOs on exporter metrics load, and their generated rules pass promtool."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    examples = root / "examples" / "slos" / "stack"
    out = tmp_path / "build"
    proc = subprocess.run(
        [sys.executable, "-m", "sloplane.cli", "generate", str(examples), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=root,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rule_files = sorted(str(p) for p in (out / "prometheus").glob("*.rules.yml"))
    assert len(rule_files) == 12  # one per SLO in examples/slos/stack
    check = promtool("check", "rules", *rule_files)
    assert check.returncode == 0, check.stdout + check.stderr
    known = {name for names in KNOWN_METRICS.values() for name in names}
    for path in examples.glob("*.yaml"):
        for name in re.findall(
            r"(?<![:\w])((?:pg|redis|rabbitmq|http_probe|http)_\w+)(?=[{\[])", path.read_text()
        ):
            assert name in known, f"{path.name}: {name} is not a metric the exporters expose"


def test_docs_list_every_metric() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "exporters.md").read_text()
    missing = [n for names in KNOWN_METRICS.values() for n in names if f"`{n}`" not in docs]
    assert missing == []


def test_stack_files_carry_the_shared_header_so_stale_ones_are_deleted(tmp_path: Path) -> None:
    """A stack kind that is dropped (or renamed) leaves no stale rule file behind."""
    from sloplane.artifacts import HEADER
    from sloplane.generate import write_artifacts

    files = {f"prometheus/{rel}": text for rel, text in stack_rule_files().items()}
    assert all(HEADER in text.splitlines()[0] for text in files.values())
    write_artifacts(tmp_path, files)
    kept = {rel: text for rel, text in files.items() if "/postgres." not in rel}
    written, deleted = write_artifacts(tmp_path, kept)
    assert (written, deleted) == (0, 2)
    assert not (tmp_path / "prometheus/stack/postgres.rules.yml").exists()
    assert (tmp_path / "prometheus/stack/redis.rules.yml").exists()
