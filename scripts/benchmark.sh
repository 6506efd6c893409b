#!/usr/bin/env bash
# Set up (Airflow 3.3 venv, as for the tests) and run benchmarks/push.py; arguments are passed on.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$(bash "$root/scripts/setup-venv.sh" "${AIRFLOW_VERSION:-3.3}" | tail -n 1)"
exec "$venv/bin/python" "$root/benchmarks/push.py" "$@"
