"""The rule compiler: SLOs in, Prometheus rule files out.

Like Sloth, generation is split by concern: :mod:`.sli` builds the per-window
error-ratio recordings, :mod:`.metadata` the objective/budget/burn-rate series,
:mod:`.alerts` the multi-window, multi-burn-rate alerts. :mod:`.render` turns rule
groups into deterministic YAML files and :mod:`.unittests` writes a promtool unit
test per SLO.
"""

from sloplane.slo.rules.render import compile_rules, rule_groups

__all__ = ["compile_rules", "rule_groups"]
