"""A series' identity as text, shared by back-tests and the detector service."""

from __future__ import annotations

import json
from collections.abc import Mapping


def format_labels(labels: Mapping[str, str]) -> str:
    """A series as PromQL writes it: ``name{a="1", b="x\\"y"}``, labels sorted.

    The series' identity in the service and in back-tests: values are quoted
    and escaped, so ``{a="1,b=2"}`` and ``{a="1", b="2"}`` never share a text
    (and so never share a detector).
    """
    name = labels.get("__name__", "")
    rest = ", ".join(
        f"{k}={json.dumps(v, ensure_ascii=False)}"
        for k, v in sorted(labels.items())
        if k != "__name__"
    )
    return f"{name}{{{rest}}}" if rest or not name else name
