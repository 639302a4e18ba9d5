"""Stack rules for HTTP probes: failing probes and certificates about to expire."""

from __future__ import annotations

from sloplane.exporters.stack_rules import WHO, Stack, page, recording_rule, ticket
from sloplane.exporters.stack_rules.cases import AlertTest, RecordTest, fires_and_not

CERT_EXPIRY_DAYS = 14

_H = '{instance="https://vault:8200/v1/sys/health",job="sloplane-probe"}'

STACK = Stack(
    kind="http",
    records=[
        recording_rule(
            "instance:http_probe_duration_seconds:sum",
            "sum without (phase) (http_probe_duration_seconds)",
        ),
    ],
    alerts=[
        page(
            "ProbeFailing",
            "http_probe_success == 0",
            "2m",
            f"Probe of {WHO} is failing",
            "The endpoint does not answer, or answers with a status or body the probe does not"
            " accept (http_probe_status_code, http_probe_body_match).",
        ),
        ticket(
            "CertificateExpiringSoon",
            f"http_probe_tls_cert_expiry_timestamp_seconds - time() < {CERT_EXPIRY_DAYS} * 86400",
            "10m",
            f"TLS certificate of {WHO} expires within {CERT_EXPIRY_DAYS} days",
            "Renew the certificate before clients start refusing the endpoint.",
        ),
    ],
    alert_tests=[
        *fires_and_not(
            "ProbeFailing",
            "5m",
            {f"http_probe_success{_H}": "0x10"},
            {f"http_probe_success{_H}": "1x10"},
        ),
        AlertTest(
            {
                'http_probe_success{instance="127.0.0.1:9465",job="sloplane-exporter",target="vault"}': "0x10"
            },
            "5m",
            "ProbeFailing",
            [{}],
        ),
        # Test time starts at 0: an expiry 10 days after it fires, one 30 days after does not.
        *fires_and_not(
            "CertificateExpiringSoon",
            "20m",
            {f"http_probe_tls_cert_expiry_timestamp_seconds{_H}": "864000x30"},
            {f"http_probe_tls_cert_expiry_timestamp_seconds{_H}": "2592000x30"},
        ),
    ],
    record_tests=[
        RecordTest(
            {
                '{__name__="http_probe_duration_seconds",instance="https://vault:8200/v1/sys/health",job="sloplane-probe",phase="connect"}': "0.25x5",
                '{__name__="http_probe_duration_seconds",instance="https://vault:8200/v1/sys/health",job="sloplane-probe",phase="tls"}': "0.5x5",
            },
            "2m",
            "instance:http_probe_duration_seconds:sum",
            [(_H, 0.75)],
        ),
    ],
)
