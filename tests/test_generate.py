"""The compiler registry of ``sloplane generate``: steps run in order, none may overwrite another."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sloplane.artifacts import HEADER, Artifacts, GenerateSettings
from sloplane.errors import SpecError
from sloplane.generate import (
    COMPILERS,
    Compiler,
    build_artifacts,
    diff_artifacts,
    write_artifacts,
)
from sloplane.slo.catalog import Catalog
from sloplane.slo.model import SLO


def _slo(service: str = "api", name: str = "availability") -> SLO:
    return SLO(
        service=service,
        name=name,
        objective=99.9,
        sli={"kind": "events", "errors": 'req_total{code=~"5.."}', "total": "req_total"},
    )


CATALOG = Catalog.of([_slo(), _slo(name="latency")])


def _fixed(name: str, files: Artifacts) -> Compiler:
    return Compiler(name, lambda _c: f"step {name}", lambda _c, _s: dict(files))


def test_the_registry_runs_rules_dashboards_routing_then_stack_rules() -> None:
    said: list[str] = []
    build_artifacts(CATALOG, GenerateSettings(), said.append)
    assert [c.name for c in COMPILERS] == ["rules", "dashboards", "alertmanager", "stack"]
    assert said == [
        "compiling rules for 2 SLOs",
        "rendering Grafana dashboards",
        "rendering AlertManager routing",
        "rendering stack rules for the exporters",
    ]


@pytest.mark.parametrize("rule_format", ["prometheus", "prometheus-operator"])
def test_each_compiler_writes_only_its_own_directory(rule_format: str) -> None:
    settings = GenerateSettings(rule_format=rule_format)  # type: ignore[arg-type]
    rules_dir = "prometheus" if rule_format == "prometheus" else "prometheus-operator"
    top = {"rules": rules_dir, "dashboards": "grafana", "alertmanager": "alertmanager"}
    top["stack"] = rules_dir
    everything = build_artifacts(CATALOG, settings)
    union: Artifacts = {}
    for compiler in COMPILERS:
        files = compiler.compile(CATALOG, settings)
        assert files, compiler.name
        assert {PurePosixPath(p).parts[0] for p in files} == {top[compiler.name]}
        union.update(files)
    assert everything == dict(sorted(union.items()))


@given(
    st.lists(
        st.dictionaries(
            st.from_regex(r"[a-z]{1,3}/[a-z]{1,3}", fullmatch=True), st.text(max_size=5), max_size=4
        ),
        max_size=4,
    )
)
def test_a_custom_registry_is_run_in_order_and_its_files_sorted(outputs: list[Artifacts]) -> None:
    said: list[str] = []
    compilers = [_fixed(str(i), files) for i, files in enumerate(outputs)]
    paths = [p for files in outputs for p in files]
    if len(paths) != len(set(paths)):
        with pytest.raises(RuntimeError, match="both write"):
            build_artifacts(CATALOG, GenerateSettings(), said.append, compilers)
        return
    out = build_artifacts(CATALOG, GenerateSettings(), said.append, compilers)
    assert said == [f"step {i}" for i in range(len(outputs))]
    assert list(out) == sorted(paths)
    assert out == {p: t for files in outputs for p, t in files.items()}


def test_two_compilers_writing_one_path_is_an_error_naming_both() -> None:
    compilers = [_fixed("first", {"x/a.yml": "1"}), _fixed("second", {"x/a.yml": "2"})]
    with pytest.raises(
        RuntimeError, match=re.escape("compilers 'first' and 'second' both write x/a.yml")
    ):
        build_artifacts(CATALOG, GenerateSettings(), compilers=compilers)


def test_clashing_service_names_are_refused_before_any_compiler_runs() -> None:
    ran: list[str] = []

    def spy(_catalog: Catalog, _settings: GenerateSettings) -> Artifacts:
        ran.append("compiled")
        return {}

    catalog = Catalog.of([_slo(service="a.b"), _slo(service="a-b")])
    with pytest.raises(SpecError):
        build_artifacts(catalog, GenerateSettings(), compilers=[Compiler("spy", str, spy)])
    assert ran == []


def test_write_then_check_then_drift_then_prune(tmp_path: Path) -> None:
    """The disk side of generate: --check's diff, and stale generated files (only) removed."""
    first = build_artifacts(CATALOG, GenerateSettings())
    assert write_artifacts(tmp_path, first) == (len(first), 0)
    assert diff_artifacts(tmp_path, first) == []
    assert write_artifacts(tmp_path, first) == (0, 0)

    rules = tmp_path / "prometheus" / "api-availability.rules.yml"
    rules.write_text(rules.read_text().replace("14.4", "15"))
    diff = "".join(diff_artifacts(tmp_path, first))
    assert f"--- {rules}\n+++ {rules} (generated)\n" in diff
    assert "-" in diff and "+" in diff and "14.4" in diff

    # api-latency leaves the inputs: its generated files go, hand-written ones stay
    (tmp_path / "prometheus" / "mine.rules.yml").write_text("groups: []\n")
    (tmp_path / "notes.md").write_text(f"# {HEADER}\n")
    second = build_artifacts(Catalog.of([_slo()]), GenerateSettings())
    stale = sorted(set(first) - set(second))
    assert stale and all("api-latency" in p for p in stale)
    diff = "".join(diff_artifacts(tmp_path, second))
    assert all(f"--- {tmp_path}/{p}\n+++ /dev/null\n" in diff for p in stale)
    changed = {p for p, text in second.items() if first.get(p) != text}  # the service dashboard
    written, deleted = write_artifacts(tmp_path, second)
    assert deleted == len(stale)
    assert written == len(changed | {"prometheus/api-availability.rules.yml"})  # edited above
    assert not any((tmp_path / p).exists() for p in stale)
    assert (tmp_path / "prometheus" / "mine.rules.yml").exists()
    assert (tmp_path / "notes.md").exists()
    assert diff_artifacts(tmp_path, second) == []
