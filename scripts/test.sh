#!/usr/bin/env bash
# Set up and run the full test suite on every supported Airflow (3.3 and 2.11), plus ruff.
# Usage: bash scripts/test.sh [pytest args...]      AIRFLOW_VERSIONS="3.3" to run one version only.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
versions="${AIRFLOW_VERSIONS:-3.3 2.11}"
status=0
first=1
for version in $versions; do
  echo "=== Airflow $version: setting up ==="
  venv="$(bash scripts/setup-venv.sh "$version" | tail -n 1)"
  "$venv/bin/python" -c "import airflow; print('Apache Airflow', airflow.__version__)"
  if [ "$first" = 1 ]; then
    echo "=== ruff ==="
    "$venv/bin/ruff" check --output-format concise . || status=1
    first=0
  fi
  echo "=== Airflow $version: pytest ==="
  # Each run gets its own Airflow home (SQLite), so nothing leaks between versions or from the user's setup.
  home="$(mktemp -d)"
  AIRFLOW_HOME="$home" "$venv/bin/python" -m pytest "$@" || status=1
  rm -rf "$home"
done
exit $status
