"""Rule compiler speed and memory: 1, 100 and 10,000 SLOs, and the generated unit tests.

Run: ``.venv/bin/python benchmarks/rules_compile.py [--sizes 1,100,10000] [--profile]``

Each size runs in a fresh single-threaded subprocess, so imports, caches and peak memory
of one size never leak into the next. CPU time (user+system of the process) is the number
to read on a shared machine; wall time also counts waiting for a CPU. In the child:

1. build ``n`` varied SLOs (events with regex matchers, latency histograms with
   ``group_by``, availability gauges; objectives 99/99.5/99.9/99.95; windows 7d/28d/30d);
2. ``compile_rules(catalog, GenerateSettings(unit_tests=False))`` once cold (first call:
   lazy imports such as the PromQL parser) and then ``--repeat`` times warm; wall and CPU
   time of each;
3. peak RSS (``ru_maxrss``) after the compiles, and the peak of Python allocations during
   one more compile under ``tracemalloc`` (slower, so never timed).

Then, at ``--unit-test-slos`` SLOs (100), the compile with ``unit_tests=True`` (generation
time of the promtool tests) and ``promtool test rules`` over the written files.

``--profile`` adds a cProfile of one warm compile at the largest size (top functions by
cumulative and by own time), to find hot spots.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sloplane.artifacts import GenerateSettings  # noqa: E402
from sloplane.slo.catalog import Catalog  # noqa: E402
from sloplane.slo.model import SLO, AvailabilitySLI, EventsSLI, LatencySLI  # noqa: E402
from sloplane.slo.rules import compile_rules  # noqa: E402

WORK = ROOT / "benchmarks" / ".work" / "rules_compile"
OBJECTIVES = (99.0, 99.5, 99.9, 99.95)
WINDOWS = ("30d", "28d", "7d")
TEAMS = ("payments", "search", "identity", "storage", "edge")


def make_slos(n: int) -> list[SLO]:
    """``n`` deterministic, varied SLOs: a third each of events, latency and availability."""
    return [_slo(i) for i in range(n)]


def _slo(i: int) -> SLO:
    service = f"svc{i // 3:05d}"
    common: dict[str, Any] = {
        "service": service,
        "objective": OBJECTIVES[i % len(OBJECTIVES)],
        "window": WINDOWS[(i // 4) % len(WINDOWS)],
        "team": TEAMS[i % len(TEAMS)],
        "labels": {"tier": str(1 + i % 3)},
        "description": f"benchmark SLO {i}",
    }
    if i % 7 == 0:
        common["runbook_url"] = f"https://runbooks.example.com/{service}"
    kind = i % 3
    if kind == 0:
        codes = '"5..|429"' if i % 2 else '"5.."'
        return SLO(
            name="availability",
            sli=EventsSLI(
                errors=f'http_requests_total{{job="{service}",code=~{codes},handler!~"/health.*"}}',
                total=f'http_requests_total{{job="{service}",handler!~"/health.*"}}',
            ),
            **common,
        )
    if kind == 1:
        return SLO(
            name="latency",
            sli=LatencySLI(
                metric="http_request_duration_seconds",
                threshold=("0.1", "0.25", "0.5", "1")[i % 4],
                selector=f'job="{service}",method=~"GET|POST"',
            ),
            group_by=("route",) if i % 2 else ("route", "method"),
            **common,
        )
    return SLO(
        name="probe",
        sli=AvailabilitySLI(
            gauge=f'probe_success{{job="blackbox",instance=~"https://{service}.*"}}'
        ),
        **common,
    )


# -- child: one size, one process ----------------------------------------------------------


def _cpu() -> float:
    return time.process_time()


def _timed(catalog: Catalog, settings: GenerateSettings) -> tuple[float, float, dict[str, str]]:
    wall, cpu = time.perf_counter(), _cpu()
    out = compile_rules(catalog, settings)
    return time.perf_counter() - wall, _cpu() - cpu, out


def child(n: int, repeat: int, profile: bool) -> dict[str, Any]:
    rss_start_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    slos = make_slos(n)
    catalog = Catalog.of(slos)
    build_s = time.perf_counter() - t0
    settings = GenerateSettings(unit_tests=False)
    cold_wall, cold_cpu, out = _timed(catalog, settings)
    files, size = len(out), sum(len(v.encode()) for v in out.values())
    rules = sum(v.count("\n  - record: ") + v.count("\n  - alert: ") for v in out.values())
    del out
    warm = [_timed(catalog, settings)[:2] for _ in range(repeat)]
    rss_peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    compile_rules(catalog, settings)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    result: dict[str, Any] = {
        "slos": n,
        "build_s": build_s,
        "cold_wall_s": cold_wall,
        "cold_cpu_s": cold_cpu,
        "warm_wall_s": [w for w, _ in warm],
        "warm_cpu_s": [c for _, c in warm],
        "files": files,
        "bytes": size,
        "rules": rules,
        "rss_before_slos_mib": rss_start_kib / 1024,
        "rss_peak_mib": rss_peak_kib / 1024,
        "tracemalloc_peak_mib": traced_peak / 2**20,
    }
    if profile:
        result["profile"] = _profile(catalog, settings)
    return result


def _profile(catalog: Catalog, settings: GenerateSettings) -> str:
    prof = cProfile.Profile()
    prof.enable()
    compile_rules(catalog, settings)
    prof.disable()
    text = io.StringIO()
    stats = pstats.Stats(prof, stream=text)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(25)
    return text.getvalue().replace(str(ROOT) + "/", "")


def unit_test_child(n: int) -> dict[str, Any]:
    catalog = Catalog.of(make_slos(n))
    _timed(catalog, GenerateSettings(unit_tests=False))  # warm the lazy imports
    rules_wall, _, _ = _timed(catalog, GenerateSettings(unit_tests=False))
    wall, cpu, out = _timed(catalog, GenerateSettings(unit_tests=True))
    tests = sorted(p for p in out if p.startswith("prometheus/tests/"))
    shutil.rmtree(WORK, ignore_errors=True)
    for path, text in out.items():
        dest = WORK / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text)
    t0 = time.perf_counter()
    proc = subprocess.run(
        ["promtool", "test", "rules", *tests],
        cwd=WORK,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GOMAXPROCS": "1"},
    )
    promtool_s = time.perf_counter() - t0
    return {
        "slos": n,
        "rules_only_wall_s": rules_wall,
        "with_tests_wall_s": wall,
        "with_tests_cpu_s": cpu,
        "tests_generation_s": wall - rules_wall,
        "test_files": len(tests),
        "test_bytes": sum(len(out[p].encode()) for p in tests),
        "promtool_s": promtool_s,
        "promtool_rc": proc.returncode,
        "promtool_tail": (proc.stdout + proc.stderr)[-600:],
    }


# -- what-if: the two compiler changes proposed in BENCHMARKS.md, applied by patching --


def what_if_child(n: int) -> dict[str, Any]:
    """CPU of one compile of ``n`` SLOs now and with each proposed change; output must not change.

    The changes are applied here by monkeypatching (this file must not edit the compiler):
    (a) window each SLI query once per (query, group_by) and substitute the range per window;
    (b) build YAML nodes directly instead of going through PyYAML's Python representer.
    """
    import functools

    import yaml
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    from sloplane.slo import promql
    from sloplane.slo.rules import render

    catalog = Catalog.of(make_slos(n))
    settings = GenerateSettings(unit_tests=False)
    reference = compile_rules(catalog, settings)

    def cpu_of_compile() -> tuple[float, bool]:
        start = _cpu()
        out = compile_rules(catalog, settings)
        return _cpu() - start, out == reference

    result: dict[str, Any] = {"slos": n}
    result["now"] = cpu_of_compile()

    original = promql.window_query
    sentinels = ("1111111s", "2222222s")

    @functools.lru_cache(maxsize=1 << 16)
    def template(query: str, group_by: tuple[str, ...]) -> str | None:
        a, b = (original(query, w, group_by) for w in sentinels)
        same = a.replace(f"[{sentinels[0]}]", "\0") == b.replace(f"[{sentinels[1]}]", "\0")
        return a if same else None

    def window_query(query: str, window: str, group_by: Any = ()) -> str:
        if promql.has_placeholder(query):
            return str(promql.render_template(query, window))
        text = template(query, tuple(group_by))
        if text is None:
            return str(original(query, window, group_by))
        return text.replace(f"[{sentinels[0]}]", f"[{window}]")

    promql.window_query = window_query
    result["window_once"] = cpu_of_compile()

    tags: dict[type, str] = {str: "str", dict: "map", list: "seq"}

    def node(obj: Any) -> Any:
        tag = f"tag:yaml.org,2002:{tags[type(obj)]}"
        if isinstance(obj, str):
            return ScalarNode(tag, obj, style="|" if "\n" in obj else None)
        if isinstance(obj, dict):
            return MappingNode(tag, [(node(k), node(v)) for k, v in obj.items()], flow_style=False)
        return SequenceNode(tag, [node(x) for x in obj], flow_style=False)

    def dump_yaml(data: Any, header: str = render.HEADER) -> str:
        body = yaml.serialize(node(data), Dumper=render._Dumper, allow_unicode=True, width=1000)
        return f"# {header}\n{body}"

    template.cache_clear()
    render.dump_yaml = dump_yaml
    result["window_once_and_nodes"] = cpu_of_compile()
    template.cache_clear()
    render.dump_yaml = lambda data, header="": ""
    result["without_yaml"] = cpu_of_compile()[0], True
    promql.window_query = original
    return result


# -- parent: run the children and print a report -------------------------------------------


def _run_child(args: list[str]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{proc.stderr}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def report(results: list[dict[str, Any]], ut: dict[str, Any] | None) -> str:
    lines = [
        "| SLOs | rules | files | YAML | cold compile | warm compile wall (CPU), median | CPU per SLO | peak RSS | tracemalloc peak |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        warm = statistics.median(r["warm_wall_s"])
        warm_cpu = statistics.median(r["warm_cpu_s"])
        lines.append(
            f"| {r['slos']:,} | {r['rules']:,} | {r['files']:,} | {r['bytes'] / 2**20:.1f} MiB "
            f"| {_fmt(r['cold_wall_s'])} | {_fmt(warm)} ({_fmt(warm_cpu)}) "
            f"| {warm_cpu / r['slos'] * 1000:.2f} ms | {r['rss_peak_mib']:.0f} MiB "
            f"| {r['tracemalloc_peak_mib']:.1f} MiB |"
        )
    lines.append("")
    lines.append(
        "Building the SLO objects (pydantic validation) is not included above: "
        + ", ".join(f"{r['slos']:,}: {_fmt(r['build_s'])}" for r in results)
        + ". RSS before building SLOs (interpreter + imports): "
        + ", ".join(f"{r['rss_before_slos_mib']:.0f} MiB" for r in results[:1])
        + "."
    )
    if ut:
        lines += [
            "",
            f"Unit tests at {ut['slos']} SLOs: compile with `unit_tests=True` "
            f"{_fmt(ut['with_tests_wall_s'])} vs {_fmt(ut['rules_only_wall_s'])} rules only "
            f"(test generation {_fmt(ut['tests_generation_s'])}, {ut['test_files']} files, "
            f"{ut['test_bytes'] / 2**20:.2f} MiB); `promtool test rules` over them: "
            f"{_fmt(ut['promtool_s'])} (exit {ut['promtool_rc']}).",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,100,10000")
    parser.add_argument("--repeat", type=int, default=0, help="warm repeats (default by size)")
    parser.add_argument("--unit-test-slos", type=int, default=100, help="0 to skip")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--unit-test-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--what-if", type=int, default=0, help="also measure the proposed changes at N SLOs"
    )
    parser.add_argument("--what-if-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.repeat, args.profile)))
        return
    if args.unit_test_child is not None:
        print(json.dumps(unit_test_child(args.unit_test_child)))
        return
    if args.what_if_child is not None:
        print(json.dumps(what_if_child(args.what_if_child)))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    for n in sizes:
        repeat = args.repeat or (20 if n <= 100 else 2)
        print(f"compiling {n:,} SLOs ({repeat} warm repeats)...", file=sys.stderr, flush=True)
        child_args = ["--child", str(n), "--repeat", str(repeat)]
        if args.profile and n == max(sizes):
            child_args.append("--profile")
        results.append(_run_child(child_args))
        r = results[-1]
        print(
            f"  cold {_fmt(r['cold_wall_s'])}, warm median {_fmt(statistics.median(r['warm_wall_s']))}",
            file=sys.stderr,
            flush=True,
        )
    ut = None
    if args.unit_test_slos:
        print(f"unit tests at {args.unit_test_slos} SLOs...", file=sys.stderr, flush=True)
        ut = _run_child(["--unit-test-child", str(args.unit_test_slos)])
        if ut["promtool_rc"] != 0:
            print(ut["promtool_tail"], file=sys.stderr)
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, one single-threaded child per size\n"
    )
    print(report(results, ut))
    if args.what_if:
        print(f"what-if at {args.what_if:,} SLOs...", file=sys.stderr, flush=True)
        w = _run_child(["--what-if-child", str(args.what_if)])
        print(f"\nProposed changes, CPU of one compile of {w['slos']:,} SLOs (same bytes?):\n")
        for key in ("now", "window_once", "window_once_and_nodes", "without_yaml"):
            cpu, same = w[key]
            print(
                f"- {key.replace('_', ' ')}: {cpu:.2f} s ({'identical' if same else 'DIFFERENT'})"
            )
    for r in results:
        if "profile" in r:
            print(f"\ncProfile of one warm compile of {r['slos']:,} SLOs:\n```\n{r['profile']}```")


if __name__ == "__main__":
    main()
