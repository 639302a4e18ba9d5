"""``sloplane validate``, ``generate`` and ``list``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from sloplane.artifacts import GenerateSettings
from sloplane.errors import SloplaneError, SpecError
from sloplane.slo.burn import SEVERITIES
from sloplane.slo.catalog import Catalog
from sloplane.slo.promql import num

ROUTING_KIND = "AlertRouting"

# No exists=True: the loader reports a missing path as one problem line (exit 1) next to
# every other problem, where click would print a usage block and exit 2.
paths_argument = click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))


def _period_seconds(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    from sloplane.slo.durations import DurationError, parse_duration

    try:
        return parse_duration(value)
    except DurationError as exc:
        raise click.BadParameter(str(exc)) from None


def _window_days(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    return None if value is None else value * 86400


def sloth_period_options(command: Any) -> Any:
    """Sloth's ``--default-slo-period`` (and the older ``--window-days``): Sloth SLOs' window."""
    command = click.option(
        "--default-slo-period",
        "sloth_period",
        callback=_period_seconds,
        help="Window of Sloth SLOs (they have none of their own), as in Sloth. Default 30d.",
    )(command)
    return click.option(
        "--window-days",
        "sloth_days",
        type=click.IntRange(1, 90),
        callback=_window_days,
        help="Same as --default-slo-period=<N>d.",
    )(command)


def _load(
    paths: tuple[Path, ...], sloth_period: int | None = None, sloth_days: int | None = None
) -> Catalog:
    from sloplane.slo.loaders import load

    if sloth_period and sloth_days and sloth_period != sloth_days:
        raise click.UsageError("--default-slo-period and --window-days disagree")
    # Python SLO files are code: each runs in a child process with a timeout.
    loaded = load(list(paths), sloth_period=sloth_period or sloth_days, isolate_python=True)
    printed: set[str] = set()
    for warning in loaded.warnings:
        line = f"warning: {warning}"
        if line not in printed:  # one line per warning, however many SLOs it came from
            printed.add(line)
            click.echo(line, err=True)
    return loaded.catalog


def _require_slos(catalog: Catalog, paths: tuple[Path, ...], why: str = "") -> None:
    """No SLO found is a failure for every command: a wrong path must not look like success."""
    if not catalog.slos:
        raise SloplaneError(f"no SLOs found in {', '.join(str(p) for p in paths)}{why}")


def _progress(message: str) -> None:
    click.echo(f"sloplane: {message}", err=True)


@click.command()
@paths_argument
@sloth_period_options
def validate(paths: tuple[Path, ...], sloth_period: int | None, sloth_days: int | None) -> None:
    """Check SLO definitions; print one line per problem and exit 1 if any."""
    from sloplane.slo.naming import artifact_name_problems

    catalog = _load(paths, sloth_period, sloth_days)
    _require_slos(catalog, paths)
    # What generate refuses, validate reports: dashboards that would share a uid (every
    # output format writes them) and the routing as generate reads it.
    problems = artifact_name_problems(catalog) + catalog.document_problems()
    if problems:
        raise SpecError(problems)
    click.echo(f"ok: {len(catalog.slos)} SLOs valid")


@click.command()
@paths_argument
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), default=Path("build"), show_default=True
)
@click.option(
    "--check", is_flag=True, help="Do not write; exit 1 with a diff if OUT is not up to date."
)
@click.option(
    "--format",
    "rule_format",
    type=click.Choice(["prometheus", "prometheus-operator"]),
    default="prometheus",
    show_default=True,
    help="Plain rule files, or PrometheusRule custom resources.",
)
@click.option(
    "--label-mode",
    type=click.Choice(["sloplane", "sloth"]),
    default="sloplane",
    show_default=True,
    help="Label names on generated series: sloplane_id/... or Sloth's sloth_id/...",
)
@click.option("--grafana-url", default="http://localhost:3000", show_default=True)
@click.option("--no-unit-tests", is_flag=True, help="Skip the promtool unit test per SLO.")
@click.option("--operator-namespace", help="metadata.namespace of the PrometheusRule resources.")
@click.option(
    "--operator-label",
    "operator_labels",
    multiple=True,
    metavar="KEY=VALUE",
    help="Label on the PrometheusRule resources (repeatable), for the operator's ruleSelector.",
)
@sloth_period_options
def generate(
    paths: tuple[Path, ...],
    out_dir: Path,
    check: bool,
    rule_format: str,
    label_mode: str,
    grafana_url: str,
    no_unit_tests: bool,
    operator_namespace: str | None,
    operator_labels: tuple[str, ...],
    sloth_period: int | None,
    sloth_days: int | None,
) -> None:
    """Generate rules, unit tests, dashboards and AlertManager routing into OUT."""
    from sloplane.generate import build_artifacts, diff_artifacts, write_artifacts
    from sloplane.slo.rules.unittests import unit_test_gaps

    catalog = _load(paths, sloth_period, sloth_days)
    _require_slos(
        catalog, paths, f": refusing to generate (it would empty {out_dir}); check the path"
    )
    if not catalog.documents_of(ROUTING_KIND):
        click.echo(
            f"warning: no {ROUTING_KIND} document in {', '.join(str(p) for p in paths)}: the "
            "generated alertmanager.yml sends every alert to a receiver that notifies nobody "
            "(see docs/dashboards-and-alerting.md)",
            err=True,
        )
    settings = GenerateSettings(
        label_mode=label_mode,  # type: ignore[arg-type]
        rule_format=rule_format,  # type: ignore[arg-type]
        grafana_url=grafana_url,
        unit_tests=not no_unit_tests,
        operator_namespace=operator_namespace,
        operator_labels=tuple(_key_value(item) for item in operator_labels),
    )
    _progress(f"loaded {len(catalog.slos)} SLOs from {len(paths)} path(s)")
    artifacts = build_artifacts(catalog, settings, _progress)
    if settings.unit_tests and rule_format == "prometheus":
        for slo_id, reason in sorted(unit_test_gaps(catalog.slos, settings).items()):
            click.echo(f"warning: {slo_id}: no promtool unit test generated: {reason}", err=True)
    if check:
        diff = diff_artifacts(out_dir, artifacts)
        if diff:
            sys.stdout.writelines(diff)
            click.echo(f"error: {out_dir} is out of date; run sloplane generate", err=True)
            sys.exit(1)
        click.echo(f"ok: {out_dir} is up to date ({len(artifacts)} files)")
        return
    written, deleted = write_artifacts(out_dir, artifacts)
    click.echo(
        f"wrote {written} of {len(artifacts)} files to {out_dir}"
        + (f", deleted {deleted} stale" if deleted else "")
    )


def _key_value(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--operator-label")
    return key, value


@click.command("list")
@paths_argument
@sloth_period_options
def list_slos(paths: tuple[Path, ...], sloth_period: int | None, sloth_days: int | None) -> None:
    """Print a table of SLOs: id, objective, window, budget, alert tiers, team; exit 1 if none."""
    catalog = _load(paths, sloth_period, sloth_days)
    _require_slos(catalog, paths)
    rows = [("ID", "OBJECTIVE", "WINDOW", "BUDGET (min)", "TIERS", "TEAM", "SLI")]
    for slo in catalog.slos:
        tiers = ",".join(t for t in SEVERITIES if slo.burn_windows(t)) or "-"
        rows.append(
            (
                slo.id,
                f"{num(slo.objective_percent)}%",
                slo.window_text,
                f"{slo.budget_minutes:.1f}",
                tiers,
                slo.team or "-",
                slo.sli.kind,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
