"""AlertManager notification templates (Go templates) for sloplane's alerts.

They read the labels and annotations the rule compiler puts on every burn-rate
alert, so a page tells the on-call engineer which SLO burns, how fast, how much
budget is left and where the runbook and dashboard are. Label names depend on the
label mode (``sloplane_id`` or ``sloth_id``), hence the placeholders.
"""

from __future__ import annotations

from sloplane.artifacts import HEADER
from sloplane.slo.naming import Labels

TEMPLATE_FILE = "alertmanager/templates/sloplane.tmpl"

_TEMPLATE = """\
{{/* @HEADER@ */}}

{{/* The first alert of the group carries the numbers: groups are per SLO and alert name. */}}
{{ define "sloplane.summary" -}}
{{ with index .Alerts 0 }}{{ or .Annotations.summary .Labels.alertname }}{{ end -}}
{{ if gt (len .Alerts) 1 }} ({{ len .Alerts }} alerts){{ end -}}
{{ end }}

{{ define "sloplane.title" -}}
[{{ .Status | toUpper }}] {{ template "sloplane.summary" . }}
{{- end }}

{{ define "sloplane.slo" }}{{ or .CommonLabels.@ID@ .CommonLabels.alertname }}{{ end }}

{{ define "sloplane.dashboard_url" }}{{ with index .Alerts 0 }}{{ .Annotations.dashboard_url }}{{ end }}{{ end }}

{{ define "sloplane.runbook_url" }}{{ with index .Alerts 0 }}{{ .Annotations.runbook_url }}{{ end }}{{ end }}

{{ define "sloplane.burn_rate" -}}
{{ with index .Alerts 0 }}{{ if .Annotations.burn_rate }}{{ .Annotations.burn_rate }}x (alerting at {{ .Annotations.burn_rate_threshold }}){{ else }}n/a{{ end }}{{ end -}}
{{ end }}

{{ define "sloplane.budget_remaining" -}}
{{ with index .Alerts 0 }}{{ or .Annotations.budget_remaining "see the dashboard" }}{{ end -}}
{{ end }}

{{ define "sloplane.objective" -}}
{{ with index .Alerts 0 }}{{ if .Annotations.objective }}{{ .Annotations.objective }} over {{ .Annotations.window }}{{ else }}n/a{{ end }}{{ end -}}
{{ end }}

{{ define "sloplane.description" }}{{ with index .Alerts 0 }}{{ .Annotations.description }}{{ end }}{{ end }}

{{/* PagerDuty severity: critical for pages, warning for tickets (critical/warning pass through). */}}
{{ define "sloplane.pagerduty.severity" -}}
{{ if or (eq .CommonLabels.severity "page") (eq .CommonLabels.severity "critical") }}critical{{ else if or (eq .CommonLabels.severity "ticket") (eq .CommonLabels.severity "warning") }}warning{{ else }}error{{ end -}}
{{ end }}

{{ define "sloplane.pagerduty.source" }}{{ or .CommonLabels.@SERVICE@ .CommonLabels.job "sloplane" }}{{ end }}

{{ define "sloplane.slack.color" -}}
{{ if eq .Status "resolved" }}good{{ else if or (eq .CommonLabels.severity "page") (eq .CommonLabels.severity "critical") }}danger{{ else }}warning{{ end -}}
{{ end }}

{{ define "sloplane.slack.text" -}}
{{ template "sloplane.description" . }}
*SLO:* `{{ template "sloplane.slo" . }}`  *Objective:* {{ template "sloplane.objective" . }}
*Burn rate:* {{ template "sloplane.burn_rate" . }}
*Budget remaining:* {{ template "sloplane.budget_remaining" . }}
{{ with index .Alerts 0 }}{{ if .Annotations.runbook_url }}*Runbook:* <{{ .Annotations.runbook_url }}|runbook>  {{ end }}{{ if .Annotations.dashboard_url }}*Dashboard:* <{{ .Annotations.dashboard_url }}|dashboard>{{ end }}{{ end }}
{{- end }}
"""


def render_templates(labels: Labels) -> str:
    """The template file, with label names for ``labels``' mode filled in."""
    return (
        _TEMPLATE.replace("@HEADER@", HEADER)
        .replace("@ID@", labels.id)
        .replace("@SERVICE@", labels.service)
    )
