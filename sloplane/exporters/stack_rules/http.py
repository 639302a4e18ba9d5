"""Stack rules for HTTP probes: failing probes and certificates about to expire."""

from __future__ import annotations

from sloplane.exporters.stack_rules import (
    PAGE,
    TICKET,
    WHO,
    AlertTest,
    RecordTest,
    Stack,
    alert_rule,
    recording_rule,
)

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
        alert_rule(
            "ProbeFailing",
            "http_probe_success == 0",
            "2m",
            PAGE,
            f"Probe of {WHO} is failing",
            "The endpoint does not answer, or answers with a status or body the probe does not"
            " accept (http_probe_status_code, http_probe_body_match).",
        ),
        alert_rule(
            "CertificateExpiringSoon",
            f"http_probe_tls_cert_expiry_timestamp_seconds - time() < {CERT_EXPIRY_DAYS} * 86400",
            "10m",
            TICKET,
            f"TLS certificate of {WHO} expires within {CERT_EXPIRY_DAYS} days",
            "Renew the certificate before clients start refusing the endpoint.",
        ),
    ],
    alert_tests=[
        AlertTest({f"http_probe_success{_H}": "0x10"}, "5m", "ProbeFailing", [{}]),
        AlertTest({f"http_probe_success{_H}": "1x10"}, "5m", "ProbeFailing"),
        AlertTest(
            {
                'http_probe_success{instance="127.0.0.1:9465",job="sloplane-exporter",target="vault"}': "0x10"
            },
            "5m",
            "ProbeFailing",
            [{}],
        ),
        # Test time starts at 0: an expiry 10 days after it fires, one 30 days after does not.
        AlertTest(
            {f"http_probe_tls_cert_expiry_timestamp_seconds{_H}": "864000x30"},
            "20m",
            "CertificateExpiringSoon",
            [{}],
        ),
        AlertTest(
            {f"http_probe_tls_cert_expiry_timestamp_seconds{_H}": "2592000x30"},
            "20m",
            "CertificateExpiringSoon",
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
