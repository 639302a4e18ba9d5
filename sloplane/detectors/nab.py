"""Numenta Anomaly Benchmark scoring, written from the published method.

The rules (see ``/work/shared/nab/README.md``): each labelled anomaly window
rewards only its earliest detection, the more so the earlier it is; detections
outside windows cost a little, less just after a window; a missed window costs
``A_FN``. The first ``min(floor(0.15 n), 750)`` rows of a file are probationary
and not scored. One threshold is chosen for the whole corpus per profile by
trying every distinct score, and the total is normalised between the null
detector (0) and a perfect one (100).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Profile:
    """Weights of one NAB application profile."""

    name: str
    tp: float
    fp: float
    fn: float


PROFILES: dict[str, Profile] = {
    "standard": Profile("standard", 1.0, 0.11, 1.0),
    "reward_low_FP_rate": Profile("reward_low_FP_rate", 1.0, 0.22, 1.0),
    "reward_low_FN_rate": Profile("reward_low_FN_rate", 1.0, 0.11, 2.0),
}


def scaled_sigmoid(x: float) -> float:
    """NAB's sigma: +1 far before a window's end, 0 at it, -1 well after."""
    if x > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def probation(rows: int) -> int:
    """Rows at the start of a file that are not scored."""
    return min(math.floor(0.15 * rows), 750)


def window_indices(
    timestamps: Sequence[np.datetime64] | np.ndarray, windows: Iterable[Sequence[str]]
) -> list[tuple[int, int]]:
    """Row index ranges (inclusive) of label windows given as timestamp strings."""
    ts = np.asarray(timestamps, dtype="datetime64[ns]")
    out = []
    for start, end in windows:
        lo = int(np.searchsorted(ts, np.datetime64(start.replace(" ", "T")), side="left"))
        hi = int(np.searchsorted(ts, np.datetime64(end.replace(" ", "T")), side="right")) - 1
        if hi >= lo:
            out.append((lo, hi))
    return out


@dataclass
class FileLabels:
    """What the scorer needs of one file: its length and its windows as row ranges."""

    rows: int
    windows: list[tuple[int, int]] = field(default_factory=list)


def sweep_weights(labels: FileLabels, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    """Per scored row: what a detection there would be worth, and its window (or -1).

    Returns arrays covering rows ``probation(rows)`` to the end.
    """
    n = labels.rows
    weight = np.empty(n)
    win = np.full(n, -1, dtype=np.int64)
    max_tp = scaled_sigmoid(-1.0)
    prev_right: int | None = None
    prev_width = 0.0
    wins = sorted(labels.windows)
    k = 0
    i = 0
    while i < n:
        if k < len(wins) and i == wins[k][0]:
            left, right = wins[k]
            width = float(right - left + 1)
            for j in range(left, right + 1):
                weight[j] = labels_tp(j, right, width, max_tp, profile)
                win[j] = k
            prev_right, prev_width = right, width
            k += 1
            i = right + 1
            continue
        if prev_right is None:
            weight[i] = -profile.fp
        else:
            denom = prev_width - 1.0
            pos = abs(prev_right - i) / denom if denom > 0 else math.inf
            weight[i] = scaled_sigmoid(pos) * profile.fp
        i += 1
    start = probation(n)
    return weight[start:], win[start:]


def labels_tp(i: int, right: int, width: float, max_tp: float, profile: Profile) -> float:
    """Worth of a first detection at row ``i`` of a window ending at ``right``."""
    return scaled_sigmoid(-(right - i + 1) / width) * profile.tp / max_tp


@dataclass
class CorpusScore:
    """Result of scoring a corpus under one profile."""

    profile: str
    threshold: float
    raw: float
    normalized: float
    windows: int
    detected: int
    false_positives: int


def score_corpus(
    scores: Mapping[str, np.ndarray],
    labels: Mapping[str, FileLabels],
    profile: Profile,
) -> CorpusScore:
    """Best corpus-wide threshold and normalised score under ``profile``.

    Every distinct score is tried as the threshold (a detection is a score >=
    threshold); ties are broken towards the higher threshold.
    """
    all_s: list[np.ndarray] = []
    all_w: list[np.ndarray] = []
    all_g: list[np.ndarray] = []
    n_windows = 0
    for name in sorted(labels):
        lab = labels[name]
        s = np.asarray(scores[name], dtype=float)
        if len(s) != lab.rows:
            raise ValueError(f"{name}: {len(s)} scores for {lab.rows} rows")
        w, g = sweep_weights(lab, profile)
        counted = sorted(set(g[g >= 0].tolist()))
        remap = {old: n_windows + j for j, old in enumerate(counted)}
        n_windows += len(counted)
        all_s.append(s[probation(lab.rows) :])
        all_w.append(w)
        all_g.append(np.asarray([remap.get(int(x), -1) for x in g], dtype=np.int64))
    s_all = np.concatenate(all_s) if all_s else np.zeros(0)
    w_all = np.concatenate(all_w) if all_w else np.zeros(0)
    g_all = np.concatenate(all_g) if all_g else np.zeros(0, dtype=np.int64)
    order = np.argsort(-s_all, kind="stable")
    s_sorted: list[float] = s_all[order].tolist()
    w_sorted: list[float] = w_all[order].tolist()
    g_sorted: list[int] = g_all[order].tolist()

    null = -profile.fn * n_windows
    best = (null, math.inf, 0, 0)  # score, threshold, detected, fps
    tp_best = [-math.inf] * n_windows
    tp_sum = 0.0
    fp_sum = 0.0
    fps = 0
    detected = 0
    m = len(s_sorted)
    i = 0
    while i < m:
        thr = s_sorted[i]
        while i < m and s_sorted[i] == thr:
            gi = g_sorted[i]
            wi = w_sorted[i]
            if gi < 0:
                fp_sum += wi
                fps += 1
            elif tp_best[gi] == -math.inf:
                tp_best[gi] = wi
                tp_sum += wi
                detected += 1
            elif wi > tp_best[gi]:
                tp_sum += wi - tp_best[gi]
                tp_best[gi] = wi
            i += 1
        total = tp_sum + fp_sum - profile.fn * (n_windows - detected)
        if total > best[0]:
            best = (total, thr, detected, fps)
    perfect = profile.tp * n_windows
    norm = 100.0 * (best[0] - null) / (perfect - null) if perfect != null else 0.0
    return CorpusScore(profile.name, best[1], best[0], norm, n_windows, best[2], best[3])


def load_corpus(root: Path) -> tuple[dict[str, Path], dict[str, list[list[str]]]]:
    """The NAB data files under ``root/data`` and the label windows of ``root/windows.json``."""
    windows: dict[str, list[list[str]]] = json.loads((root / "windows.json").read_text())
    files = {name: root / "data" / name for name in sorted(windows)}
    return files, windows
