"""Grafana file provisioning for the generated dashboards.

Mount ``DIR/grafana`` at :data:`DASHBOARDS_PATH` and this file in
``/etc/grafana/provisioning/dashboards/``; Grafana then loads every dashboard into
the folder and refuses UI edits, so the files stay the source of truth.
"""

from __future__ import annotations

import yaml

from sloplane.artifacts import HEADER

PROVISIONING_FILE = "grafana/provisioning/dashboards.yaml"
DASHBOARDS_PATH = "/var/lib/grafana/dashboards/sloplane"
FOLDER = "SLOs"


def provisioning_yaml(path: str = DASHBOARDS_PATH, folder: str = FOLDER) -> str:
    config = {
        "apiVersion": 1,
        "providers": [
            {
                "name": "sloplane",
                "orgId": 1,
                "folder": folder,
                "type": "file",
                "disableDeletion": False,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {"path": path, "foldersFromFilesStructure": False},
            }
        ],
    }
    return f"# {HEADER}\n# Mount the generated grafana/*.json at {path}.\n" + yaml.safe_dump(
        config, sort_keys=False
    )
