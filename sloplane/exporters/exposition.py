"""Metric families and their two text formats, for the serving process.

Why not prometheus_client here: importing any part of it runs its package ``__init__``,
which loads its HTTP server, WSGI and ASGI glue, the parser and every metric type (about
4 MiB of the serving process's memory, measured in docs/exporters.md "Memory"). The
exporter only renders families that its collectors build per scrape, so it needs the
two formats and nothing else: the Prometheus text format 0.0.4 and OpenMetrics 1.0.0
(https://prometheus.io/docs/instrumenting/exposition_formats/, the OpenMetrics spec).

:class:`Metric` and :class:`Sample` have prometheus_client's attribute names, so its
encoders and parser (used by the tests and by :mod:`.asgi`) read them unchanged.
``tests/exporters/test_exposition.py`` checks both renderings against prometheus_client's.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import resource
from collections.abc import Callable, Iterable
from typing import NamedTuple

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


class Sample(NamedTuple):
    name: str
    labels: dict[str, str]
    value: float
    timestamp: float | None = None
    exemplar: None = None
    native_histogram: None = None


class Metric:
    """One family: name (without ``_total``/``_info``), help, type and its samples."""

    def __init__(self, name: str, documentation: str, typ: str, unit: str = "") -> None:
        if typ == "counter" and name.endswith("_total"):
            name = name[:-6]
        elif typ == "info" and name.endswith("_info"):
            name = name[:-5]
        self.name = name
        self.documentation = documentation
        self.type = typ
        self.unit = unit
        self.samples: list[Sample] = []

    def add_sample(self, name: str, labels: dict[str, str], value: float) -> None:
        self.samples.append(Sample(name, labels, value))

    def __repr__(self) -> str:
        return f"Metric({self.name!r}, {self.type!r}, {len(self.samples)} samples)"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(float(value))
    dot = text.find(".")
    if value > 0 and dot > 6:
        # Go (and so Prometheus' own exporters) switch to exponents sooner than Python.
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return text


def _label_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _line(sample: Sample) -> str:
    if sample.labels:
        pairs = ",".join(f'{k}="{_label_value(v)}"' for k, v in sorted(sample.labels.items()))
        return f"{sample.name}{{{pairs}}} {_number(sample.value)}\n"
    return f"{sample.name} {_number(sample.value)}\n"


#: Family types as the 0.0.4 text format names them (and the suffix its name takes).
_TEXT_TYPES = {
    "counter": ("_total", "counter"),
    "info": ("_info", "gauge"),
    "unknown": ("", "untyped"),
}


def render_text(metrics: Iterable[Metric]) -> bytes:
    """The Prometheus text format 0.0.4."""
    out: list[str] = []
    for metric in metrics:
        suffix, typ = _TEXT_TYPES.get(metric.type, ("", metric.type))
        name = metric.name + suffix
        doc = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
        out.append(f"# HELP {name} {doc}\n# TYPE {name} {typ}\n")
        out.extend(map(_line, metric.samples))
    return "".join(out).encode()


def render_openmetrics(metrics: Iterable[Metric]) -> bytes:
    """OpenMetrics 1.0.0 text."""
    out: list[str] = []
    for metric in metrics:
        out.append(f"# HELP {metric.name} {_label_value(metric.documentation)}\n")
        out.append(f"# TYPE {metric.name} {metric.type}\n")
        if metric.unit:
            out.append(f"# UNIT {metric.name} {metric.unit}\n")
        out.extend(map(_line, metric.samples))
    out.append("# EOF\n")
    return "".join(out).encode()


def choose_renderer(accept: str) -> tuple[Callable[[Iterable[Metric]], bytes], str]:
    """OpenMetrics when the scraper's ``Accept`` names it, the 0.0.4 text format otherwise
    (what Prometheus and every other scraper read)."""
    for accepted in accept.split(","):
        if accepted.split(";")[0].strip() == "application/openmetrics-text":
            return render_openmetrics, OPENMETRICS_CONTENT_TYPE
    return render_text, TEXT_CONTENT_TYPE


# -- the exporter's own process ---------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = resource.getpagesize()
_BOOT_TIME: float | None = None


def _boot_time() -> float | None:
    global _BOOT_TIME
    if _BOOT_TIME is None:
        try:
            with open("/proc/stat", "rb") as stat:
                for line in stat:
                    if line.startswith(b"btime "):
                        _BOOT_TIME = float(line.split()[1])
        except OSError:
            return None
    return _BOOT_TIME


def process_metrics() -> list[Metric]:
    """The standard ``process_*``, ``python_info`` and ``python_gc_*`` families, with the
    names and meaning prometheus_client's collectors give them (Linux ``/proc``; on other
    systems only what ``resource`` tells)."""
    out: list[Metric] = []

    def gauge(name: str, doc: str, value: float, typ: str = "gauge") -> None:
        metric = Metric(name, doc, typ)
        metric.add_sample(metric.name + ("_total" if typ == "counter" else ""), {}, value)
        out.append(metric)

    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        boot = _boot_time()
        gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", float(fields[20]))
        gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            float(fields[21]) * _PAGE,
        )
        if boot is not None:
            gauge(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                float(fields[19]) / _TICKS + boot,
            )
        cpu = (float(fields[11]) + float(fields[12])) / _TICKS
        gauge(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            cpu,
            "counter",
        )
        gauge(
            "process_open_fds",
            "Number of open file descriptors.",
            float(len(os.listdir("/proc/self/fd"))),
        )
    except OSError:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        gauge(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            usage.ru_utime + usage.ru_stime,
            "counter",
        )
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    gauge("process_max_fds", "Maximum number of open file descriptors.", float(soft))

    info = Metric("python_info", "Python platform information", "gauge")
    major, minor, patchlevel = platform.python_version_tuple()
    info.add_sample(
        "python_info",
        {
            "implementation": platform.python_implementation(),
            "major": major,
            "minor": minor,
            "patchlevel": patchlevel,
            "version": platform.python_version(),
        },
        1.0,
    )
    out.append(info)
    collected = Metric("python_gc_objects_collected", "Objects collected during gc", "counter")
    uncollectable = Metric(
        "python_gc_objects_uncollectable", "Uncollectable objects found during GC", "counter"
    )
    collections = Metric(
        "python_gc_collections", "Number of times this generation was collected", "counter"
    )
    for generation, stats in enumerate(gc.get_stats()):
        labels = {"generation": str(generation)}
        collected.add_sample("python_gc_objects_collected_total", labels, stats["collected"])
        uncollectable.add_sample(
            "python_gc_objects_uncollectable_total", labels, stats["uncollectable"]
        )
        collections.add_sample("python_gc_collections_total", labels, stats["collections"])
    out += [collected, uncollectable, collections]
    return out
