"""Generated rules in a real Prometheus, on backfilled history that goes on live.

Several integration tests need the same picture: an SLO's generated rules, loaded onto
days of backfilled raw counters that continue at wall-clock time, with the rules'
recorded roll-up tier written for the last minutes (so they "have run" a while). They
start it with :func:`rules_on_history`.

Prometheus evaluates a rule group with an explicit ``interval`` first at the group's
slot after start-up: the slot's offset within the interval is a hash of the group's name
and its file's path (``Group.EvalTimestamp`` in Prometheus' rules manager: xxhash64 of
the ``file`` and ``name`` labels, modulo the interval). With a random temporary path a
3-minute group first runs anywhere from 0 to 3 minutes after start-up, and the tests
wait for it. :func:`rules_file_due` names the rule file so that the slot of the group
the test waits for (the long-window group here) comes a few seconds after Prometheus is
ready instead; the rules are byte for byte the generated ones.
A Prometheus that computed the slot differently would only make the test wait longer.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import xxhash
import yaml

from sloplane.artifacts import GenerateSettings
from sloplane.slo import SLO, Catalog
from sloplane.slo.durations import parse_duration
from sloplane.slo.rules import compile_rules
from tests.support.live_counters import drop_target_labels, live_counters
from tests.support.processes import (
    Prometheus,
    backfill_openmetrics,
    prometheus_config,
    run_prometheus,
)
from tests.support.recent_tier import record_recent_tier

#: seconds from choosing a rule file's name to Prometheus evaluating its groups: start-up on
#: a backfilled TSDB takes a few seconds on a loaded 2-core machine, so aim this far ahead
START_UP_SECONDS = 10.0
#: the slot is aimed within this many seconds after START_UP_SECONDS
SLOT_WINDOW_SECONDS = 5.0


def group_offset(rule_file: Path, group: str, interval_seconds: float) -> float:
    """Seconds after each multiple of the interval (unix time) at which Prometheus runs ``group``."""
    key = b"file\xff" + str(rule_file).encode() + b"\xffname\xff" + group.encode() + b"\xff"
    interval_ns = round(interval_seconds * 1e9)
    return (xxhash.xxh64_intdigest(key) % interval_ns) / 1e9


def next_slot(rule_file: Path, group: str, interval_seconds: float, after: float) -> float:
    """The first unix time after ``after`` at which Prometheus would evaluate ``group``."""
    offset = group_offset(rule_file, group, interval_seconds)
    base = (after - offset) // interval_seconds * interval_seconds + offset
    return base + interval_seconds


def rules_file_due(
    directory: Path,
    text: str,
    group: str,
    start_up: float = START_UP_SECONDS,
    window: float = SLOT_WINDOW_SECONDS,
) -> Path:
    """Write the rule file ``text`` under a name whose ``group`` first runs soon.

    "Soon" is ``start_up`` to ``start_up + window`` seconds from now, when Prometheus is
    started right after this returns. ``group`` must have its own ``interval``. Gives up
    on aiming (any name is correct, only slower) after a bounded number of names.
    """
    (interval,) = [
        parse_duration(g["interval"]) for g in yaml.safe_load(text)["groups"] if g["name"] == group
    ]
    directory.mkdir(parents=True, exist_ok=True)
    now = time.time()
    path = directory / "rules.yml"
    for attempt in range(int(interval / window + 1) * 20):
        path = directory / f"rules-{attempt}.yml"
        if next_slot(path, group, interval, now + start_up) - (now + start_up) <= window:
            break
    path.write_text(text)
    return path


def generated_rules(slo: SLO) -> str:
    """The Prometheus rule file sloplane generates for ``slo`` alone (no unit tests)."""
    artifacts = compile_rules(Catalog.of([slo]), GenerateSettings(unit_tests=False))
    (text,) = [
        t for rel, t in artifacts.items() if rel.startswith("prometheus/") and "/stack/" not in rel
    ]
    return text


@contextlib.contextmanager
def rules_on_history(
    work: Path,
    slo: SLO,
    slo_py: str,
    history: str,
    counters: Callable[[float], dict[str, float]],
    tier: tuple[int, int],
    interval: str = "15s",
) -> Iterator[Prometheus]:
    """Prometheus with ``slo``'s generated rules on backfilled history, scraping live counters.

    ``history`` is the raw counters as OpenMetrics text up to a moment ago; ``counters``
    gives their values at any unix time (served live, continuing the history); ``tier``
    is the (start, end) of the rules' recorded tier written with ``sloplane backfill``
    from ``slo_py`` (the same SLO as a Python file) before Prometheus starts. Scrapes and
    the groups without their own interval run every ``interval``.
    """
    data = work / "data"
    backfill_openmetrics(history, data)
    record_recent_tier(slo_py, data, *tier)
    with live_counters(counters) as target:
        text = generated_rules(slo)
        (long,) = [g["name"] for g in yaml.safe_load(text)["groups"] if g["name"].endswith("-long")]
        rules = rules_file_due(work / "rules", text, long)
        config = prometheus_config(
            [target], rule_files=[rules], scrape_interval=interval, evaluation_interval=interval
        )
        with run_prometheus(drop_target_labels(config), data_dir=data) as prom:
            yield prom
