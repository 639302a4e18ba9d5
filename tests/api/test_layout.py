"""The API's shape: routes mounted once, one Problem type, and reports that do not need the API."""

from __future__ import annotations

import ast
from pathlib import Path

from sloplane.api.app import create_app
from sloplane.api.settings import ApiSettings
from tests.api.dataset import CATALOG

PACKAGE = Path(__file__).parents[2] / "sloplane"


def _openapi(tmp_path: Path) -> dict:
    settings = ApiSettings("http://127.0.0.1:9", f"sqlite:///{tmp_path / 'db'}", schedule=None)
    return create_app(CATALOG, settings).openapi()


def test_every_route_is_mounted_once_under_its_prefix(tmp_path: Path) -> None:
    paths = list(_openapi(tmp_path)["paths"])
    assert not [p for p in paths if "/v1/v1" in p or "detectors" in p]
    assert all(p.startswith("/api/v1/") or p in ("/healthz", "/readyz") for p in paths), paths
    assert "/api/v1/slos/{slo_id}/status" in paths and "/api/v1/reports/runs" in paths


def test_the_problem_document_is_not_named_problem(tmp_path: Path) -> None:
    schemas = _openapi(tmp_path)["components"]["schemas"]
    assert "ProblemDetails" in schemas and "Problem" not in schemas
    named = [
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and node.name == "Problem"
    ]
    assert named == ["errors.py"]


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_reports_and_the_read_queries_do_not_import_the_api() -> None:
    readers = [*sorted((PACKAGE / "reports").rglob("*.py")), PACKAGE / "slo" / "queries.py"]
    readers += sorted((PACKAGE / "clients").rglob("*.py"))
    offending = {
        path.relative_to(PACKAGE).as_posix(): sorted(
            m for m in _imports(path) if m == "sloplane.api" or m.startswith("sloplane.api.")
        )
        for path in readers
    }
    assert {k: v for k, v in offending.items() if v} == {}
