#!/usr/bin/env bash
# Set up and run the full test suite on every supported Airflow (3.3 and 2.11), plus ruff.
# Usage: bash scripts/test.sh [pytest args...]      AIRFLOW_VERSIONS="3.3" to run one version only.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
versions="${AIRFLOW_VERSIONS:-3.3 2.11}"
status=0
first=1
once_done=""
# The browser test (tests/e2e) drives Debian's Chromium with Playwright; browsers cannot be downloaded here.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "=== installing Debian's chromium for the browser test ==="
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo -n"
  if ! { $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium; } \
      >/tmp/celonis-chromium-install.log 2>&1; then
    echo "WARNING: could not install chromium (see /tmp/celonis-chromium-install.log); the browser test will be skipped"
  fi
fi
# The SQL source tests start their own PostgreSQL server (tests/helpers/servers.py) from Debian's postgresql.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "=== installing Debian's postgresql for the SQL source tests ==="
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo -n"
  if ! { $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq \
      --no-install-recommends postgresql; } >/tmp/celonis-postgresql-install.log 2>&1; then
    echo "WARNING: could not install postgresql (see /tmp/celonis-postgresql-install.log); the PostgreSQL tests will be skipped"
  fi
fi
# The distributed deployment test (tests/e2e/test_distributed.py) uses Redis as the Celery broker.
if ! command -v redis-server >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "=== installing Debian's redis-server for the distributed deployment test ==="
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo -n"
  if ! { $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq \
      --no-install-recommends redis-server; } >/tmp/celonis-redis-install.log 2>&1; then
    echo "WARNING: could not install redis-server (see /tmp/celonis-redis-install.log); the distributed test will be skipped"
  fi
fi
for version in $versions; do
  echo "=== Airflow $version: setting up ==="
  venv="$(bash scripts/setup-venv.sh "$version" | tail -n 1)"
  "$venv/bin/python" -c "import airflow; print('Apache Airflow', airflow.__version__)"
  if [ "$first" = 1 ]; then
    echo "=== ruff ==="
    "$venv/bin/ruff" check --output-format concise . || status=1
    "$venv/bin/ruff" format --check . || status=1
    first=0
  fi
  echo "=== Airflow $version: pytest ==="
  # Each run gets its own Airflow home (SQLite), so nothing leaks between versions or from the user's setup.
  home="$(mktemp -d)"
  # Tests marked `once` (packaging, docs build, getting started in its own venv, benchmark smoke, the
  # conformance command) do not depend on the Airflow that runs them: they run with the first version only.
  CELONIS_TESTS_ONCE_DONE="$once_done" AIRFLOW_HOME="$home" "$venv/bin/python" -m pytest "$@" || status=1
  once_done=1
  rm -rf "$home"
done
exit $status
