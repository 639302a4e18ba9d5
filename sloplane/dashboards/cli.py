"""``sloplane check DIR`` and ``sloplane dashboards push``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from sloplane.dashboards.check import check_dir
from sloplane.dashboards.grafana import GrafanaClient
from sloplane.errors import SloplaneError


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def check(directory: Path) -> None:
    """Report panels and alerts in DIRECTORY (from `sloplane generate`) that refer to unknown metrics."""
    report = check_dir(directory)
    click.echo(
        f"ok: {report.queries} queries in {report.dashboards} dashboards and "
        f"{report.alerts} alerts refer only to recorded, source or exporter metrics"
    )


@click.group()
def dashboards() -> None:
    """Work with the generated Grafana dashboards."""


def _token(token_file: Path | None) -> str:
    if token_file is not None:
        try:
            token = token_file.read_text().strip()
        except OSError as exc:
            raise SloplaneError(f"cannot read the Grafana token from {token_file}: {exc}") from None
    else:
        token = os.environ.get("GRAFANA_TOKEN", "").strip()
    if not token:
        raise SloplaneError("no Grafana token: set GRAFANA_TOKEN or pass --token-file")
    return token


@dashboards.command("push")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--grafana-url", envvar="GRAFANA_URL", required=True, help="e.g. https://grafana.example.com"
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File holding the API token (else env GRAFANA_TOKEN).",
)
@click.option("--folder", default="SLOs", show_default=True, help="Folder title.")
@click.option("--folder-uid", default="sloplane", show_default=True)
@click.option("--retries", default=3, show_default=True, type=click.IntRange(1, 10))
def push(
    directory: Path,
    grafana_url: str,
    token_file: Path | None,
    folder: str,
    folder_uid: str,
    retries: int,
) -> None:
    """Post every DIRECTORY/grafana/*.json to Grafana (overwriting), into one folder."""
    files = sorted((directory / "grafana").glob("*.json"))
    if not files:
        raise SloplaneError(
            f"no dashboards in {directory / 'grafana'}: run `sloplane generate` first"
        )
    with GrafanaClient(grafana_url, _token(token_file), retries=retries) as client:
        client.ensure_folder(folder_uid, folder)
        for path in files:
            result = client.push(json.loads(path.read_text()), folder_uid, "pushed by sloplane")
            click.echo(
                f"{path.name}: {result.get('status', 'ok')} {result.get('url', '')}".rstrip()
            )
