#!/usr/bin/env bash
# Set up and run the demo: the Celonis emulator, an embedded SQLite Airflow 3.3, and every example DAG
# run end to end with `airflow dags test`. DAGs whose id ends in `_expect_failure` show how a Celonis-side
# failure surfaces: they must fail, with Celonis's message in the log.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
version="${AIRFLOW_VERSION:-3.3}"
venv="$(bash scripts/setup-venv.sh "$version" | tail -n 1)"
export PATH="$venv/bin:$PATH"

port="$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"
workdir="$(mktemp -d)"
python -m airflow_provider_celonis.emulator --host 127.0.0.1 --port "$port" > "$workdir/emulator.log" 2>&1 &
emulator_pid=$!
trap 'kill $emulator_pid 2>/dev/null || true; rm -rf "$workdir"' EXIT
for _ in $(seq 1 100); do
  grep -q "listening" "$workdir/emulator.log" 2>/dev/null && break
  sleep 0.1
done
cat "$workdir/emulator.log"

export AIRFLOW_HOME="$workdir/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$root/example_dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW_CONN_CELONIS_DEFAULT="$(python -m airflow_provider_celonis.emulator --print-connection --url "$url")"
export CELONIS_EXAMPLE_POLL_INTERVAL=1
export CELONIS_TEAM_URL="$url"   # the host of the celonis:// assets the asset examples schedule on
export CELONIS_EXAMPLE_DATA_DIR="$workdir/data"
export AIRFLOW_CONN_CELONIS_EXAMPLE_DB="{\"conn_type\": \"sqlite\", \"host\": \"$workdir/data/orders.db\"}"
echo "=== Airflow $(airflow version) with AIRFLOW_HOME=$AIRFLOW_HOME ==="
airflow db migrate > "$workdir/db.log" 2>&1 || { cat "$workdir/db.log"; exit 1; }

failed=0
for file in "$root"/example_dags/example_*.py; do
  for dag_id in $(python - "$file" <<'PY'
import ast, sys
tree = ast.parse(open(sys.argv[1]).read())
for node in ast.walk(tree):
    if isinstance(node, ast.keyword) and node.arg == "dag_id" and isinstance(node.value, ast.Constant):
        print(node.value.value)
PY
  ); do
    log="$workdir/$dag_id.log"
    if airflow dags test "$dag_id" > "$log" 2>&1; then outcome=success; else outcome=failed; fi
    grep -qiE "dagrun.*state=failed|state: failed|DagRunState.FAILED|final state.*failed" "$log" && outcome=failed
    expected=success
    [[ "$dag_id" == *_expect_failure ]] && expected=failed
    if [ "$outcome" = "$expected" ]; then
      echo "OK    $dag_id: $outcome (as expected)"
    else
      echo "WRONG $dag_id: $outcome, expected $expected; last lines of its log:"
      tail -n 40 "$log"
      failed=1
    fi
  done
done
exit $failed
