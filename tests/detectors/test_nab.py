"""The NAB scorer on hand-made cases where the right answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sloplane.detectors.nab import (
    PROFILES,
    FileLabels,
    probation,
    scaled_sigmoid,
    score_corpus,
    sweep_weights,
)

STD = PROFILES["standard"]


def test_probation_and_sigmoid() -> None:
    assert probation(1000) == 150 and probation(10_000) == 750
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(3.5) == -1.0
    assert scaled_sigmoid(-1.0) == pytest.approx(2 / (1 + math.exp(-5)) - 1)


def _labels() -> dict[str, FileLabels]:
    return {
        "a.csv": FileLabels(1000, [(400, 499)]),
        "b.csv": FileLabels(1000, [(600, 649), (800, 849)]),
    }


def test_null_and_perfect() -> None:
    labels = _labels()
    zero = {k: np.zeros(v.rows) for k, v in labels.items()}
    assert score_corpus(zero, labels, STD).normalized == pytest.approx(0.0)
    perfect = {k: np.zeros(v.rows) for k, v in labels.items()}
    for k, lab in labels.items():
        for left, _ in lab.windows:
            perfect[k][left] = 1.0  # the earliest row of every window
    r = score_corpus(perfect, labels, STD)
    assert r.normalized == pytest.approx(100.0) and r.detected == 3 and r.false_positives == 0


def test_only_earliest_detection_counts_and_late_is_worth_less() -> None:
    labels = {"a.csv": FileLabels(1000, [(400, 499)])}
    early = np.zeros(1000)
    early[[400, 450, 499]] = 1.0
    late = np.zeros(1000)
    late[499] = 1.0
    e = score_corpus({"a.csv": early}, labels, STD)
    lt = score_corpus({"a.csv": late}, labels, STD)
    assert e.raw == pytest.approx(1.0)
    assert 0.0 < lt.raw < 0.1  # right at the window's end sigma is nearly 0


def test_false_positive_costs() -> None:
    lab = FileLabels(1000, [(400, 499)])
    w, g = sweep_weights(lab, STD)
    start = probation(1000)
    assert w[200 - start] == pytest.approx(-0.11)  # before any window: -A_FP
    assert g[200 - start] == -1
    just_after = w[500 - start]
    far_after = w[900 - start]
    assert -0.11 <= far_after < just_after < 0.0  # cheaper just after a window


def test_threshold_is_one_for_the_corpus_and_rows_in_probation_are_ignored() -> None:
    labels = {"a.csv": FileLabels(1000, [(400, 499)])}
    s = np.zeros(1000)
    s[10] = 1.0  # in probation: ignored
    s[420] = 0.6
    s[700] = 0.7  # an FP scoring above the TP: the best threshold keeps both
    r = score_corpus({"a.csv": s}, labels, STD)
    assert r.threshold == pytest.approx(0.6)
    assert r.false_positives == 1 and r.detected == 1
    lfp = score_corpus({"a.csv": s}, labels, PROFILES["reward_low_FP_rate"])
    lfn = score_corpus({"a.csv": s}, labels, PROFILES["reward_low_FN_rate"])
    assert lfp.raw < r.raw
    assert lfn.normalized > 0
