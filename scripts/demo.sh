#!/usr/bin/env bash
# The demo: the Celonis emulator, an embedded SQLite Airflow 3.3, and every example DAG run end to end with
# `airflow dags test`, saying per DAG what each task did in Celonis. DAGs whose id ends in `_expect_failure`
# show how a Celonis-side failure surfaces: they must fail, with Celonis's message.
# Usage: bash scripts/demo.sh [--keep]     --keep: keep the Airflow home, the DAG logs and the emulator log.
# Installs only what the demo needs (Airflow and the package with its sqlite extra) into .venvs/demo-<version>.
set -euo pipefail
keep=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg (use --keep, or --help)" >&2; exit 2 ;;
  esac
done
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
version="${AIRFLOW_VERSION:-3.3}"
venv="$root/.venvs/demo-$version"
demo_started=$SECONDS

# 1. The venv: Airflow and this package (editable, with the sqlite extra for the SQL example); no dev tooling.
export UV_PYTHON_DOWNLOADS=never   # only the machine's Python; the registries are the only network here
python="$(command -v python3.11 || command -v python3)"
if [ -x "$venv/bin/airflow" ]; then
  echo "1/4 checking Apache Airflow $version and the provider in ${venv#"$root"/} …"
else
  echo "1/4 installing Apache Airflow $version and the provider into ${venv#"$root"/} … (first time: a few minutes)"
fi
step_started=$SECONDS
if ! command -v uv >/dev/null 2>&1; then
  "$python" -m pip install --quiet --disable-pip-version-check uv
fi
uv="$(command -v uv || echo "$python -m uv")"
[ -x "$venv/bin/python" ] || $uv venv --quiet --python "$python" "$venv"
VIRTUAL_ENV="$venv" $uv pip install --quiet "apache-airflow==$version.*" -e "$root[sqlite]"
export PATH="$venv/bin:$PATH"
echo "    ready in $((SECONDS - step_started)) s: $(airflow version 2>/dev/null | tail -n 1) ($(du -sh "$venv" | cut -f1) installed)"

# 2. The emulator, on a free port.
workdir="$(mktemp -d "${TMPDIR:-/tmp}/celonis-demo.XXXXXX")"
port="$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python -m airflow_provider_celonis.emulator --host 127.0.0.1 --port "$port" > "$workdir/emulator.log" 2>&1 &
emulator_pid=$!
cleanup() {
  kill "$emulator_pid" 2>/dev/null || true
  if [ "$keep" = 1 ]; then
    echo "kept (--keep): Airflow home $workdir/airflow, DAG logs $workdir/logs/, emulator log $workdir/emulator.log"
    echo "    look around: AIRFLOW_HOME=$workdir/airflow $venv/bin/airflow dags list-runs example_celonis_full_reload"
  else
    rm -rf "$workdir"
  fi
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  grep -q "listening" "$workdir/emulator.log" 2>/dev/null && break
  sleep 0.1
done
echo "2/4 the Celonis emulator: $(head -n 1 "$workdir/emulator.log" | sed 's/^Celonis emulator //'), demo pool \"Sales (demo)\""

# 3. The example DAGs and their environment, as a pip user gets them (getting started), and Airflow's database.
echo "3/4 copying the example DAGs into $workdir/dags and setting up Airflow's SQLite database …"
export AIRFLOW_HOME="$workdir/airflow"
eval "$(python -m airflow_provider_celonis.emulator --write-examples "$workdir/dags" --url "http://127.0.0.1:$port" \
  2>/dev/null)"
mkdir -p "$workdir/logs"
airflow db migrate > "$workdir/logs/db-migrate.log" 2>&1 || { cat "$workdir/logs/db-migrate.log"; exit 1; }

# 4. Every example DAG, one `airflow dags test` each.
dag_ids=()
for file in "$workdir"/dags/example_*.py; do
  while IFS= read -r dag_id; do dag_ids+=("$dag_id"); done < <(python - "$file" <<'PY'
import ast, sys
tree = ast.parse(open(sys.argv[1]).read())
for node in ast.walk(tree):
    if isinstance(node, ast.keyword) and node.arg == "dag_id" and isinstance(node.value, ast.Constant):
        print(node.value.value)
PY
  )
done
echo "4/4 running ${#dag_ids[@]} example DAGs with \`airflow dags test\` (about 10-20 s each) …"
as_expected=0
for dag_id in "${dag_ids[@]}"; do
  log="$workdir/logs/$dag_id.log"
  started=$SECONDS
  if airflow dags test "$dag_id" > "$log" 2>&1; then outcome=success; else outcome=failed; fi
  grep -qiE "dagrun.*state=failed|state: failed|DagRunState.FAILED|final state.*failed" "$log" && outcome=failed
  expected=success
  [[ "$dag_id" == *_expect_failure ]] && expected=failed
  if [ "$outcome" = "$expected" ]; then
    verdict="as expected"
    as_expected=$((as_expected + 1))
  else
    verdict="WRONG, expected $expected"
  fi
  echo "  $dag_id: $outcome in $((SECONDS - started)) s ($verdict)"
  python "$root/scripts/demo_report.py" "$AIRFLOW_HOME/airflow.db" "$dag_id" "$log" || true
  if [ "$outcome" != "$expected" ]; then
    echo "    last lines of its log ($log):"
    tail -n 30 "$log" | sed 's/^/      /'
  fi
done
echo "${#dag_ids[@]} DAGs, $as_expected as expected, in $((SECONDS - demo_started)) s"
[ "$as_expected" = "${#dag_ids[@]}" ]
