"""Rewrite the golden files from the current code: ``python -m tests.golden.update``.

Run it (or ``make golden``) after a change that is meant to alter generated output, then
review ``git diff tests/golden/`` like code: it is exactly what users' rules will change by.
"""

from __future__ import annotations

import shutil
import sys

from tests.golden import GOLDEN, VARIANTS, generated, golden


def main() -> int:
    """Replace each variant's directory with freshly generated files; print what changed."""
    for variant in VARIANTS:
        before = golden(variant) if (GOLDEN / variant).is_dir() else {}
        after = generated(variant)
        shutil.rmtree(GOLDEN / variant, ignore_errors=True)
        for rel, text in after.items():
            path = GOLDEN / variant / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        changed = sorted(
            rel for rel in set(before) | set(after) if before.get(rel) != after.get(rel)
        )
        print(f"tests/golden/{variant}: {len(after)} files, {len(changed)} changed")
        for rel in changed if before else []:
            state = "new" if rel not in before else "gone" if rel not in after else "changed"
            print(f"  {state}: {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
