"""``sloplane generate``: every artifact from one catalog, and the disk I/O around it.

:func:`build_artifacts` is pure (catalog in, ``{path: text}`` out). It runs the
:data:`COMPILERS` in order, one per concern, as Sloth's generate pipeline does: adding an
output is one more entry, not more wiring. :func:`write_artifacts` and
:func:`diff_artifacts` are the only places that touch the output directory.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sloplane.artifacts import HEADER, Artifacts, GenerateSettings
from sloplane.errors import SpecError
from sloplane.slo.catalog import Catalog
from sloplane.slo.naming import artifact_name_problems
from sloplane.slo.rules import compile_rules

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Compiler:
    """One step of ``generate``: a pure function from the catalog to the files of one concern.

    ``describe`` is the progress line printed before it runs (``sloplane: ...`` on stderr),
    so a slow or failing step is named by what it was doing.
    """

    name: str
    describe: Callable[[Catalog], str]
    compile: Callable[[Catalog, GenerateSettings], Artifacts]


def _dashboards(catalog: Catalog, settings: GenerateSettings) -> Artifacts:
    from sloplane.dashboards import render_dashboards

    return render_dashboards(catalog, settings)


def _alertmanager(catalog: Catalog, settings: GenerateSettings) -> Artifacts:
    from sloplane.alerts import render_alertmanager

    return render_alertmanager(catalog, settings)


def _stack_rules(_catalog: Catalog, settings: GenerateSettings) -> Artifacts:
    """The exporters' ready-made rules: files under prometheus/, or one PrometheusRule."""
    from sloplane.exporters.rules import stack_rule_files

    stack = stack_rule_files()
    if settings.rule_format == "prometheus":
        return {f"prometheus/{path}": text for path, text in stack.items()}
    return {"prometheus-operator/stack.yaml": _stack_as_prometheus_rule(stack, settings)}


# In order: the progress lines name the steps as they run.
COMPILERS: tuple[Compiler, ...] = (
    Compiler(
        "rules", lambda catalog: f"compiling rules for {len(catalog.slos)} SLOs", compile_rules
    ),
    Compiler("dashboards", lambda _catalog: "rendering Grafana dashboards", _dashboards),
    Compiler("alertmanager", lambda _catalog: "rendering AlertManager routing", _alertmanager),
    Compiler("stack", lambda _catalog: "rendering stack rules for the exporters", _stack_rules),
)


def build_artifacts(
    catalog: Catalog,
    settings: GenerateSettings,
    progress: Progress | None = None,
    compilers: Sequence[Compiler] = COMPILERS,
) -> Artifacts:
    """Rules, unit tests, dashboards, AlertManager config and stack rules for ``catalog``.

    Services whose dashboards or PrometheusRules would share a name are refused first,
    all of them in one :class:`SpecError`: one file would silently replace the other.
    For the same reason two compilers may never write the same path.
    """
    problems = artifact_name_problems(catalog, settings.rule_format)
    if problems:
        raise SpecError(problems)
    say = progress or (lambda _msg: None)
    out: Artifacts = {}
    owner: dict[str, str] = {}
    for compiler in compilers:
        say(compiler.describe(catalog))
        files = compiler.compile(catalog, settings)
        for path in files:
            if path in owner:
                raise RuntimeError(
                    f"compilers {owner[path]!r} and {compiler.name!r} both write {path}"
                )
            owner[path] = compiler.name
        out.update(files)
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
