"""``sloplane generate``: every artifact from one catalog, and the disk I/O around it.

:func:`build_artifacts` is pure (catalog in, ``{path: text}`` out); :func:`write_artifacts`
and :func:`diff_artifacts` are the only places that touch the output directory.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

from sloplane.artifacts import HEADER, Artifacts, GenerateSettings
from sloplane.errors import SpecError
from sloplane.slo.catalog import Catalog
from sloplane.slo.naming import artifact_name_problems
from sloplane.slo.rules import compile_rules

Progress = Callable[[str], None]


def build_artifacts(
    catalog: Catalog, settings: GenerateSettings, progress: Progress | None = None
) -> Artifacts:
    """Rules, unit tests, dashboards, AlertManager config and stack rules for ``catalog``.

    Services whose dashboards or PrometheusRules would share a name are refused first,
    all of them in one :class:`SpecError`: one file would silently replace the other.
    """
    problems = artifact_name_problems(catalog, settings.rule_format)
    if problems:
        raise SpecError(problems)
    say = progress or (lambda _msg: None)
    out: Artifacts = {}
    say(f"compiling rules for {len(catalog.slos)} SLOs")
    out.update(compile_rules(catalog, settings))
    from sloplane.dashboards import render_dashboards

    say("rendering Grafana dashboards")
    out.update(render_dashboards(catalog, settings))
    from sloplane.alerts import render_alertmanager

    say("rendering AlertManager routing")
    out.update(render_alertmanager(catalog, settings))
    from sloplane.exporters.rules import stack_rule_files

    say("rendering stack rules for the exporters")
    stack = stack_rule_files()
    if settings.rule_format == "prometheus":
        out.update({f"prometheus/{path}": text for path, text in stack.items()})
    else:
        out["prometheus-operator/stack.yaml"] = _stack_as_prometheus_rule(stack, settings)
    return dict(sorted(out.items()))


def _stack_as_prometheus_rule(stack: Artifacts, settings: GenerateSettings) -> str:
    """The exporters' rule files (not their promtool tests) as one PrometheusRule."""
    import yaml

    from sloplane.slo.naming import STACK_RULE
    from sloplane.slo.rules.render import dump_yaml, prometheus_rule

    groups = [
        group
        for path, text in sorted(stack.items())
        if path.endswith(".rules.yml")
        for group in yaml.safe_load(text)["groups"]
    ]
    return dump_yaml(prometheus_rule(STACK_RULE, groups, settings))


# Only these subdirectories of --out are ever pruned: a stray file elsewhere that happens
# to quote our header (a README, say) is never deleted.
OWNED_DIRS = ("prometheus", "prometheus-operator", "grafana", "alertmanager")


def _generated_files(out_dir: Path) -> set[str]:
    """Files under ``out_dir`` that an earlier run of sloplane wrote (they carry our header)."""
    found: set[str] = set()
    paths = [p for d in OWNED_DIRS if (out_dir / d).is_dir() for p in (out_dir / d).rglob("*")]
    for path in paths:
        if path.is_file():
            try:
                head = path.read_text(errors="replace")[:4096]
            except OSError:
                continue
            if HEADER in head:
                found.add(path.relative_to(out_dir).as_posix())
    return found


def write_artifacts(out_dir: Path, artifacts: Artifacts) -> tuple[int, int]:
    """Write ``artifacts`` and delete stale generated files; returns (written, deleted)."""
    stale = _generated_files(out_dir) - set(artifacts)
    written = 0
    for rel, text in artifacts.items():
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written += 1
    for rel in sorted(stale):
        (out_dir / rel).unlink()
    return written, len(stale)


def diff_artifacts(out_dir: Path, artifacts: Artifacts) -> list[str]:
    """Unified diff lines between ``out_dir`` and what would be generated (empty when equal)."""
    lines: list[str] = []
    for rel in sorted(set(artifacts) | _generated_files(out_dir)):
        path = out_dir / rel
        current = path.read_text() if path.is_file() else None
        wanted = artifacts.get(rel)
        if current == wanted:
            continue
        lines.extend(
            difflib.unified_diff(
                _lines(current),
                _lines(wanted),
                fromfile=f"{out_dir}/{rel}" if current is not None else "/dev/null",
                tofile=f"{out_dir}/{rel} (generated)" if wanted is not None else "/dev/null",
            )
        )
    return lines


def _lines(text: str | None) -> list[str]:
    return [] if text is None else text.splitlines(keepends=True)
