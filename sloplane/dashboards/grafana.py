"""Push generated dashboards to Grafana's HTTP API, for teams that do not use file provisioning.

Dashboards go into one folder with ``overwrite: true`` (the files are the source
of truth). Transient failures (connection errors, 429, 5xx) are retried with
backoff; 401, 403 and 412 are explained, since they need a human to act.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from sloplane.errors import BackendError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

_EXPLAIN = {
    401: "Grafana rejected the credentials (401): check the token in GRAFANA_TOKEN or --token-file",
    403: (
        "the token may not write dashboards (403): use a service-account token with the "
        "Editor role, or Admin to create the folder"
    ),
    412: (
        "Grafana refused the save (412 precondition failed): a dashboard with the same title "
        "exists in the folder under another uid, or the version changed meanwhile"
    ),
}


class GrafanaClient:
    def __init__(
        self,
        url: str,
        token: str,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout,
            transport=transport,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )

    def __enter__(self) -> GrafanaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def _request(
        self, method: str, path: str, ok: tuple[int, ...] = (200,), **kw: Any
    ) -> httpx.Response:
        last = ""
        for attempt in range(self.retries):
            if attempt:
                self._sleep(self.backoff * 2 ** (attempt - 1))
            try:
                resp = self._http.request(method, path, **kw)
            except httpx.HTTPError as exc:
                last = f"Grafana at {self.url} is unreachable: {exc}"
                continue
            if resp.status_code in ok:
                return resp
            if resp.status_code in RETRY_STATUSES:
                last = f"Grafana {method} {path} answered {resp.status_code}: {_message(resp)}"
                continue
            explain = _EXPLAIN.get(
                resp.status_code, f"Grafana {method} {path} answered {resp.status_code}"
            )
            raise BackendError(f"{explain}: {_message(resp)}")
        raise BackendError(f"{last} (after {self.retries} attempts)")

    def ensure_folder(self, uid: str, title: str) -> str:
        resp = self._request("GET", f"/api/folders/{uid}", ok=(200, 404))
        if resp.status_code == 404:
            self._request("POST", "/api/folders", json={"uid": uid, "title": title})
        return uid

    def push(self, dashboard: dict[str, Any], folder_uid: str, message: str) -> dict[str, Any]:
        body = {
            "dashboard": {**dashboard, "id": None},
            "folderUid": folder_uid,
            "overwrite": True,
            "message": message,
        }
        return dict(self._request("POST", "/api/dashboards/db", json=body).json())


def _message(resp: httpx.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text.strip()[:200]
    if isinstance(data, dict) and "message" in data:
        return str(data["message"])
    return str(data)[:200]
