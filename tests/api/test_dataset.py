"""The hand-computed recorded series equal what the generated recording rules compute."""

from __future__ import annotations

import pytest
import yaml

from sloplane.artifacts import GenerateSettings
from sloplane.slo import naming
from sloplane.slo.catalog import Catalog
from sloplane.slo.model import SLO
from sloplane.slo.rules import compile_rules
from tests.api import latency_dataset
from tests.api.dataset import CHECKOUT, W46_END, ts
from tests.support.processes import Prometheus

pytestmark = pytest.mark.integration

TIMES = [
    ts("2026-11-04T12:00"),
    ts("2026-11-10T12:30"),
    ts("2026-11-10T13:00"),
    ts("2026-11-13T18:05"),
    W46_END,
]
LATENCY_TIMES = [
    ts("2026-11-04T12:00"),
    ts("2026-11-12T07:00"),
    ts("2026-11-12T09:00"),
    ts("2026-11-13T18:05"),
    W46_END,
]


def _recording_rules(slo: SLO) -> list[dict]:
    rules = []
    for path, text in compile_rules(Catalog.of([slo]), GenerateSettings()).items():
        if path.endswith(".rules.yml"):
            for group in yaml.safe_load(text)["groups"]:
                rules += [r for r in group["rules"] if "record" in r]
    return rules


def _check_recorded(prom: Prometheus, slo: SLO, times: list[float]) -> None:
    checked = 0
    wanted = {naming.ERRORS_RATE, naming.TOTAL_RATE} | {
        naming.ratio_metric(w) for w in naming.recorded_windows(slo)
    }
    for rule in _recording_rules(slo):
        if rule["record"] not in wanted:
            continue
        for t in times:
            generated = prom.query(rule["expr"], t)
            backfilled = prom.query(f'{rule["record"]}{{sloplane_id="{slo.id}"}}', t)
            assert len(generated) == len(backfilled) == 1, rule["record"]
            assert float(backfilled[0]["value"][1]) == pytest.approx(
                float(generated[0]["value"][1]), rel=1e-6, abs=1e-12
            ), (rule["record"], t)
            checked += 1
    assert checked == len(wanted) * len(times)


def test_dataset_matches_generated_rules(prom: Prometheus) -> None:
    _check_recorded(prom, CHECKOUT, TIMES)


@pytest.mark.parametrize("slo", latency_dataset.RECORDED, ids=lambda s: s.id)
def test_latency_dataset_matches_generated_rules(latency_prom: Prometheus, slo: SLO) -> None:
    _check_recorded(latency_prom, slo, LATENCY_TIMES)
