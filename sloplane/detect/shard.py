"""Sharding: N replicas of ``detect serve`` split the watched series, as Prometheus does.

Prometheus' ``hashmod`` relabelling (``action: hashmod``) takes the MD5 digest of
the label values, reads its last 8 bytes as a big-endian unsigned 64-bit integer
and keeps the remainder modulo N. This does the same with the series' identity,
the text :func:`~sloplane.detectors.labels.format_labels` gives
(``name{a="1", b="2"}``, labels sorted, values quoted):

    int.from_bytes(hashlib.md5(identity.encode()).digest()[8:], "big") % N

Every replica reads the watch's whole query (PromQL cannot select by hash) and
scores only the series of its shard, so each series is scored by exactly one
replica; actions still take their database lease, so a decision happens once
whichever replica asks.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Replica ``index`` of ``count`` (0-based, like a StatefulSet's pod index)."""

    index: int = 0
    count: int = 1

    def owns(self, identity: str) -> bool:
        return self.count == 1 or hashmod(identity, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def hashmod(identity: str, modulus: int) -> int:
    """Prometheus' ``hashmod`` of one string (see the module doc)."""
    return int.from_bytes(hashlib.md5(identity.encode()).digest()[8:], "big") % modulus


def parse_shard(text: str) -> Shard:
    """``"I/N"`` with ``0 <= I < N``; a wrong value raises ``ValueError`` saying what is expected."""
    m = _SHARD.match(text)
    if not m:
        raise ValueError(f"{text!r} is not I/N (for example 0/3: replica 0 of 3)")
    index, count = int(m.group(1)), int(m.group(2))
    if count < 1 or index >= count:
        raise ValueError(f"{text!r}: the index must be 0 to N-1 and N at least 1")
    return Shard(index, count)
