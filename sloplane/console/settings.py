"""What the console needs beyond the API's settings: where the detector service answers."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class ConsoleSettings:
    """``detector_url``: base URL of ``sloplane detect serve`` (its ``/v1/detectors`` API);
    without it the decisions page says the detector store is not configured.
    ``detector_token``: the detector API's bearer token, sent only for an admin's approve or
    reject (the console checks the visitor's admin scope against the SLO API first)."""

    detector_url: str | None = None
    detector_token: str | None = None
    detector_timeout: float = 5.0

    @classmethod
    def from_env(cls) -> ConsoleSettings:
        return cls(
            detector_url=os.environ.get("SLOPLANE_DETECTOR_URL") or None,
            detector_token=os.environ.get("SLOPLANE_DETECTOR_TOKEN") or None,
        )
