"""Golden files: what ``sloplane generate examples/slos/`` writes, committed under tests/golden/.

Every change to generated rules, dashboards or routing then shows up in review as a diff
of these files. ``make golden`` (``python -m tests.golden.update``) rewrites them from the
current code; ``test_golden.py`` fails with a unified diff when they are stale.

Each variant is one set of ``sloplane generate`` options; its files live in
``tests/golden/<variant>/`` exactly as ``--out`` would hold them.
"""

from __future__ import annotations

from pathlib import Path

from sloplane.artifacts import Artifacts, GenerateSettings

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent
EXAMPLES = ROOT / "examples" / "slos"

# variant directory -> (the `sloplane generate` options it stands for, the settings they make)
VARIANTS: dict[str, tuple[str, GenerateSettings]] = {
    "default": ("", GenerateSettings()),
    "operator-sloth": (
        "--format prometheus-operator --label-mode sloth",
        GenerateSettings(rule_format="prometheus-operator", label_mode="sloth"),
    ),
}


def generated(variant: str) -> Artifacts:
    """What ``sloplane generate examples/slos/ <options>`` would write, computed in-process."""
    from sloplane.generate import build_artifacts
    from sloplane.slo.loaders import load

    catalog = load([EXAMPLES]).catalog
    return build_artifacts(catalog, VARIANTS[variant][1])


def golden(variant: str) -> Artifacts:
    """The committed golden files of ``variant`` as ``{relative path: text}``."""
    base = GOLDEN / variant
    return {
        path.relative_to(base).as_posix(): path.read_text()
        for path in sorted(base.rglob("*"))
        if path.is_file()
    }
