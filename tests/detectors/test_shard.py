"""Sharding (issue 16, item 6): ``--shard I/N`` splits the series as Prometheus' hashmod.

The hash is checked against a real Prometheus' ``hashmod`` relabelling, and three
``detect serve`` processes on one backfilled Prometheus score every series
exactly once between them.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from sloplane.cli import main
from sloplane.detect.shard import Shard, hashmod, parse_shard
from sloplane.detectors.labels import format_labels
from tests.support.processes import (
    backfill_openmetrics,
    free_port,
    prometheus_config,
    run_prometheus,
    stop_process,
    wait_http_ok,
)

REPO = Path(__file__).resolve().parents[2]


def test_the_hash_is_prometheus_hashmod() -> None:
    """The example of Prometheus' own relabelling tests: hashmod("baz", 1000) is 976."""
    assert hashmod("baz", 1000) == 976


@settings(max_examples=60, deadline=None)
@given(
    identities=st.lists(st.text(max_size=30), min_size=1, max_size=40, unique=True),
    count=st.integers(1, 7),
)
def test_every_series_belongs_to_exactly_one_shard(identities: list[str], count: int) -> None:
    for identity in identities:
        owners = [i for i in range(count) if Shard(i, count).owns(identity)]
        assert owners == [hashmod(identity, count)]


@pytest.mark.parametrize(
    ("text", "words"), [("3/3", "0 to N-1"), ("1of3", "not I/N"), ("0/0", "N")]
)
def test_a_wrong_shard_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        parse_shard(text)
    cfg = tmp_path / "detect.yaml"
    cfg.write_text(f"database: sqlite:///{tmp_path / 'd.db'}\napi: {{read_only: true}}\n")
    with pytest.raises(SystemExit) as info:
        main(["detect", "serve", "--config", str(cfg), "--shard", text])
    assert info.value.code == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: --shard: ") and words in line


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_the_hash_matches_a_real_prometheus_relabelling() -> None:
    targets = [f"127.0.0.1:{free_port()}" for _ in range(8)]
    config = prometheus_config(targets, scrape_interval="1s")
    config["scrape_configs"][0]["relabel_configs"] = [
        {
            "source_labels": ["__address__"],
            "action": "hashmod",
            "modulus": 5,
            "target_label": "__tmp_hash",
        },
        {"source_labels": ["__tmp_hash"], "target_label": "shard"},
    ]
    with run_prometheus(config) as prom:
        deadline = time.monotonic() + 30
        rows: list[dict] = []
        while len(rows) < len(targets) and time.monotonic() < deadline:
            rows = prom.query("up")
            time.sleep(0.2)
    assert len(rows) == len(targets)
    for row in rows:
        labels = row["metric"]
        assert int(labels["shard"]) == hashmod(labels["instance"], 5)


SERIES = 12
STEP = 60
POINTS = 90
END = int(time.time()) // STEP * STEP - STEP


def _history() -> str:
    rng = random.Random(6)
    lines = ["# TYPE shard_metric gauge"]
    for i in range(POINTS):
        t = END - (POINTS - 1 - i) * STEP
        for s in range(SERIES):
            lines.append(f'shard_metric{{pod="p{s}"}} {10 + rng.gauss(0, 1)!r} {t}')
    return "\n".join(lines) + "\n"


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[list[str]]:
    """Three `detect serve --shard I/3` processes; yields their /metrics URLs."""
    data = tmp_path / "data"
    backfill_openmetrics(_history(), data)
    procs: list[subprocess.Popen[bytes]] = []
    with run_prometheus(prometheus_config(), data_dir=data) as prom:
        urls = []
        try:
            for i in range(3):
                port = free_port()
                cfg = tmp_path / f"detect-{i}.yaml"
                cfg.write_text(
                    f"prometheus: {{url: '{prom.url}'}}\nalertmanager: {{url: null}}\n"
                    f"database: sqlite:///{tmp_path / f'd{i}.db'}\n"
                    f"listen: 127.0.0.1:{port}\napi: {{read_only: true}}\n"
                    "watches:\n  - {name: w, query: shard_metric, step: 1m, "
                    "detector: ewma, threshold: 0.9}\n"
                )
                args = [sys.executable, "-m", "sloplane.cli", "detect", "serve"]
                procs.append(
                    subprocess.Popen(
                        [*args, "--config", str(cfg), "--shard", f"{i}/3"],
                        env={**os.environ, "PYTHONPATH": str(REPO)},
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
                urls.append(f"http://127.0.0.1:{port}")
            for url, proc in zip(urls, procs, strict=True):
                wait_http_ok(f"{url}/healthz", timeout=40, proc=proc)
            yield urls
        finally:
            for proc in procs:
                stop_process(proc)


def _scored(url: str) -> set[str]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    found = set()
    for family in text_string_to_metric_families(text):
        if family.name == "sloplane_anomaly_score":
            for sample in family.samples:
                labels = {k: v for k, v in sample.labels.items() if k != "watch"}
                found.add(format_labels({"__name__": "shard_metric", **labels}))
    return found


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_three_replicas_score_every_series_exactly_once(replicas: list[str]) -> None:
    everything = {
        format_labels({"__name__": "shard_metric", "pod": f"p{s}"}) for s in range(SERIES)
    }
    deadline = time.monotonic() + 60
    seen: list[set[str]] = []
    while time.monotonic() < deadline:
        seen = [_scored(url) for url in replicas]
        if sum(len(s) for s in seen) >= SERIES:
            break
        time.sleep(0.3)
    assert set().union(*seen) == everything
    assert sum(len(s) for s in seen) == SERIES  # no series scored twice
    for i, mine in enumerate(seen):
        assert mine == {s for s in everything if hashmod(s, 3) == i}
        health = httpx.get(f"{replicas[i]}/healthz", timeout=10).json()
        assert health["status"] == "ok" and health["watches"]["w"].startswith("ok")
        text = httpx.get(f"{replicas[i]}/metrics", timeout=10).text
        assert f'sloplane_detector_shard{{count="3",index="{i}"}} 1.0' in text
