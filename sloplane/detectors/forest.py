"""Scoring points against a fitted scikit-learn IsolationForest, one at a time, fast.

scikit-learn fits the forest; this module only reads the fitted trees. Its own
``score_samples`` costs several milliseconds per call whatever the batch size
(input validation, one pass per tree), which is fine for back-tests of
thousands of points and ruinous for a service that scores one new point per
series per poll. Here every tree is walked at once with NumPy, and the path
lengths are summed with :func:`math.fsum`, so one point or a thousand give
bit-identical scores: streaming and batch agree exactly. ``tests/detectors``
checks the scores against ``score_samples``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_EULER_GAMMA = 0.5772156649015329


def average_path_length(n: np.ndarray) -> np.ndarray:
    """Expected depth of an unsuccessful search in a binary tree of ``n`` points,
    the normaliser of Liu et al.'s isolation forest (as scikit-learn computes it)."""
    n = np.asarray(n, dtype=float)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    m = n[big]
    out[big] = 2.0 * (np.log(m - 1.0) + _EULER_GAMMA) - 2.0 * (m - 1.0) / m
    return out


class IsolationPaths:
    """The trees of a fitted forest packed into flat arrays.

    ``left``/``right`` hold absolute node indices; a leaf points at itself, so
    walking ``depth`` steps from every root lands every point on its leaf.
    ``leaf_depth`` is the leaf's depth plus the expected depth of the points it
    still holds, as in the isolation forest paper.
    """

    def __init__(self, forest: Any) -> None:
        if getattr(forest, "max_features", 1.0) != 1.0:
            raise ValueError("IsolationPaths reads forests fitted on all features only")
        lefts, rights, feats, thrs, depths, roots = [], [], [], [], [], []
        offset = 0
        max_depth = 0
        for est in forest.estimators_:
            tree = est.tree_
            left = tree.children_left.astype(np.int64)
            right = tree.children_right.astype(np.int64)
            n = len(left)
            leaf = left < 0
            node_depth = _node_depths(left, right)
            idx = np.arange(n)
            lefts.append(np.where(leaf, idx, left) + offset)
            rights.append(np.where(leaf, idx, right) + offset)
            feats.append(np.where(leaf, 0, tree.feature).astype(np.int64))
            thrs.append(np.where(leaf, np.inf, tree.threshold))
            depths.append(node_depth + average_path_length(tree.n_node_samples))
            roots.append(offset)
            offset += n
            max_depth = max(max_depth, int(node_depth.max()))
        self.left = np.concatenate(lefts)
        self.right = np.concatenate(rights)
        self.feature = np.concatenate(feats)
        self.threshold = np.concatenate(thrs)
        self.leaf_depth = np.concatenate(depths)
        self.roots = np.asarray(roots, dtype=np.int64)
        self.steps = max_depth
        self.norm = len(roots) * float(average_path_length(np.asarray([forest.max_samples_]))[0])

    def anomaly_scores(self, points: np.ndarray) -> np.ndarray:
        """Liu et al.'s score ``2^(-E[h]/c)`` per row: about 0.5 ordinary, near 1 isolated.

        Features are rounded to float32 first, as scikit-learn's trees compare them.
        """
        x = np.asarray(points, dtype=np.float32).astype(float)
        rows = np.arange(len(x))[None, :]
        node = np.repeat(self.roots[:, None], len(x), axis=1)
        for _ in range(self.steps):
            go_left = x[rows, self.feature[node]] <= self.threshold[node]
            node = np.where(go_left, self.left[node], self.right[node])
        depth = self.leaf_depth[node]
        mean = np.asarray([math.fsum(col) for col in depth.T.tolist()]) / self.norm
        return np.power(2.0, -mean)


def _node_depths(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Depth of every node (root 0); children always follow their parent in sklearn's arrays."""
    depth = np.zeros(len(left), dtype=float)
    for node in range(len(left)):
        if left[node] >= 0:
            depth[left[node]] = depth[right[node]] = depth[node] + 1.0
    return depth
