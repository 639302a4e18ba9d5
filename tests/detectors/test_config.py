"""detect.yaml validation: every mistake is one line naming the file, the object and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sloplane.cli import main
from sloplane.detectors.config import load_config, parse_config
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
    assert line.startswith(f"error: {cfg}: watch 'w': field 'detector': unknown detector")


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
    assert watch.detector == "ensemble" and watch.threshold == 0.55 and cfg.guards.dry_run
