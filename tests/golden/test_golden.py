"""A fresh ``generate`` of examples/slos equals the committed golden files, byte for byte.

On a mismatch the failure is the unified diff a reviewer would see; if the change is
intended, ``make golden`` rewrites the files and the diff goes into the commit.
"""

from __future__ import annotations

import difflib

import pytest

from tests.golden import VARIANTS, generated, golden

HINT = "generated output changed; if intended, run `make golden` and commit the diff"


def unified_diff(expected: dict[str, str], actual: dict[str, str], variant: str) -> str:
    """One unified diff over every file that differs, named as in tests/golden/<variant>/."""
    lines: list[str] = []
    for rel in sorted(set(expected) | set(actual)):
        old, new = expected.get(rel), actual.get(rel)
        if old == new:
            continue
        lines.extend(
            difflib.unified_diff(
                [] if old is None else old.splitlines(keepends=True),
                [] if new is None else new.splitlines(keepends=True),
                fromfile=f"tests/golden/{variant}/{rel}" if old is not None else "/dev/null",
                tofile=f"generated/{rel}" if new is not None else "/dev/null",
            )
        )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_generate_matches_the_golden_files(variant: str) -> None:
    diff = unified_diff(golden(variant), generated(variant), variant)
    assert not diff, f"{HINT} (variant {variant}):\n{diff}"


def test_the_diff_names_added_removed_and_changed_files() -> None:
    diff = unified_diff(
        {"a.yml": "x: 1\n", "gone.yml": "y\n"}, {"a.yml": "x: 2\n", "new": "z"}, "v"
    )
    assert "--- tests/golden/v/a.yml\n+++ generated/a.yml\n" in diff
    assert "-x: 1\n+x: 2\n" in diff
    assert "--- tests/golden/v/gone.yml\n+++ /dev/null\n" in diff
    assert "--- /dev/null\n+++ generated/new\n" in diff and "+z\n" in diff
    assert unified_diff({"a": "same\n"}, {"a": "same\n"}, "v") == ""
