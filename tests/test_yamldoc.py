"""The limits every YAML reader shares (sloplane/yamldoc.py): aliases, depth, expansion, size.

A "billion laughs" file is a few hundred bytes. Before the limits, ``exporters.yaml``
and ``detect.yaml`` readers walked its 10^9 expanded values (2.4 GiB); now every reader
answers with one located problem, at once.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from sloplane.errors import SpecError
from sloplane.exporters.config import load_config as load_exporters
from sloplane.slo.loaders import load_catalog
from sloplane.yamldoc import MAX_ALIASES, MAX_BYTES, MAX_DEPTH, load_documents, load_mapping

ROOT = Path(__file__).resolve().parents[1]


def laughs(levels: int = 9, prefix: str = "") -> str:
    """The classic: each level a list of nine aliases of the level below (9^levels values)."""
    lines = [f'{prefix}a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"{prefix}a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def _run_bounded(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI with 1 GiB of address space: past the limits it would need far more."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run(
        [sys.executable, "-m", "sloplane.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,  # a bound on the test: without the limits this ran for minutes
        cwd=ROOT,
        check=False,
        preexec_fn=limit,
    )


@pytest.mark.parametrize(
    "command",
    [
        ["exporter", "--config", "{file}", "--once"],
        ["detect", "serve", "--config", "{file}"],
    ],
)
def test_a_billion_laughs_config_is_one_clear_error(tmp_path: Path, command: list[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(laughs())
    proc = _run_bounded([part.format(file=config) for part in command])
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: {config}:") and "aliases are followed" in line, line


def test_a_billion_laughs_slo_document_is_refused(tmp_path: Path) -> None:
    (tmp_path / "routing.yaml").write_text(
        "apiVersion: sloplane/v1\nkind: AlertRouting\nspec:\n" + laughs(prefix="  ")
    )
    with pytest.raises(SpecError) as info:
        load_catalog([tmp_path])
    assert any("aliases are followed" in p.message for p in info.value.problems)


def test_too_many_aliases(tmp_path: Path) -> None:
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n"
    _, problems = load_documents(text, "x.yaml")
    [problem] = problems
    assert f"more than {MAX_ALIASES} aliases" in problem.message and problem.line == 2


def test_too_deep(tmp_path: Path) -> None:
    text = "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    _, problems = load_documents(text, "x.yaml")
    [problem] = problems
    assert "levels deep" in problem.message


def test_depth_through_aliases_counts(tmp_path: Path) -> None:
    half = MAX_DEPTH // 2 + 5
    text = f"a: &a {'[' * half}1{']' * half}\nb: {'[' * half}*a{']' * half}\n"
    _, problems = load_documents(text, "x.yaml")
    [problem] = problems
    assert "levels deep" in problem.message


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    _, problems = load_documents("a: &a [1, *a]\n", "x.yaml")
    [problem] = problems
    assert "contains it" in problem.message


def test_a_huge_file_is_not_read(tmp_path: Path) -> None:
    big = tmp_path / "exporters.yaml"
    with big.open("w") as handle:
        handle.write("targets: []\n# " + "x" * MAX_BYTES + "\n")
    data, problems = load_mapping(big)
    assert data is None and "MiB; not read" in problems[0].message
    with pytest.raises(SpecError):
        load_exporters(big)


def test_anchors_and_merge_keys_within_the_limits_still_work(tmp_path: Path) -> None:
    config = tmp_path / "exporters.yaml"
    config.write_text(
        "modules:\n"
        "  pg: &pg {kind: postgres, timeout_seconds: 3}\n"
        "  pg2: {<<: *pg, user: other}\n"
        "targets:\n"
        "  - {name: a, module: pg2, address: 'db:5432'}\n"
    )
    loaded = load_exporters(config)
    module = loaded.module("pg2")
    assert module is not None and module.timeout_seconds == 3


_scalars = st.one_of(st.integers(), st.booleans(), st.text("abc xyz", max_size=5))
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text("abcdef", min_size=1, max_size=4), inner, max_size=4)
    ),
    max_leaves=30,
)


@given(doc=_values, uses=st.integers(0, 20))
def test_ordinary_documents_load_as_pyyaml_loads_them(doc: object, uses: int) -> None:
    text = yaml.safe_dump({"shared": doc, "uses": [doc] * uses}, sort_keys=False)
    # safe_dump writes repeated objects as anchors and aliases.
    docs, problems = load_documents(text, "x.yaml")
    assert problems == []
    assert docs[0][0] == yaml.safe_load(text)
