#!/usr/bin/env bash
# Install the Debian packages sloplane's demo and tests run against, when missing.
# Real components, not stand-ins: Prometheus + promtool, AlertManager + amtool, Chromium
# (report screenshots), VictoriaMetrics (vmalert loads our rules). Needs root (CI and the dev machines run as root).
set -euo pipefail

want=()
command -v promtool >/dev/null 2>&1 || want+=(prometheus)
command -v prometheus >/dev/null 2>&1 || want+=(prometheus)
command -v amtool >/dev/null 2>&1 || want+=(prometheus-alertmanager)
command -v prometheus-alertmanager >/dev/null 2>&1 || want+=(prometheus-alertmanager)
if [ "${1:-}" = "--test" ]; then
  command -v chromium >/dev/null 2>&1 || want+=(chromium)
  command -v vmalert >/dev/null 2>&1 || want+=(victoria-metrics)
  # Exporter topology tests and benchmarks/exporters_scrape.py: the pooler, Sentinel, and
  # the community Go exporters we measure ourselves against.
  command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || want+=(pgbouncer)
  command -v redis-sentinel >/dev/null 2>&1 || want+=(redis-sentinel)
  command -v prometheus-postgres-exporter >/dev/null 2>&1 || want+=(prometheus-postgres-exporter)
  command -v prometheus-redis-exporter >/dev/null 2>&1 || want+=(prometheus-redis-exporter)
fi
if [ ${#want[@]} -eq 0 ]; then
  exit 0
fi
mapfile -t want < <(printf '%s\n' "${want[@]}" | sort -u)
echo "installing Debian packages: ${want[*]}"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
