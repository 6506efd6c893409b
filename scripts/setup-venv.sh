#!/usr/bin/env bash
# Create (or reuse) .venvs/airflow-<VERSION> with Apache Airflow <VERSION>.*, this package (editable) with its
# runtime extras, and the `dev` dependency group of pyproject.toml (test, docs and release tooling).
# Usage: scripts/setup-venv.sh 3.3   (prints the venv path on the last line)
set -euo pipefail
version="${1:?usage: setup-venv.sh AIRFLOW_MINOR_VERSION, e.g. 3.3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venvs/airflow-$version"
export UV_PYTHON_DOWNLOADS=never   # only the machine's Python; the registries are the only network here
python="$(command -v python3.11 || command -v python3)"
if ! command -v uv >/dev/null 2>&1; then
  "$python" -m pip install --quiet --disable-pip-version-check uv >&2
fi
uv="$(command -v uv || echo "$python -m uv")"
if [ ! -x "$venv/bin/python" ]; then
  $uv venv --quiet --python "$python" "$venv" >&2
fi
# Airflow 2.x sets an attribute on cryptography's MultiFernet, which cryptography 51 (a Rust type) refuses:
# every connection with a password then fails to load ("MultiFernet object has no attribute is_encrypted").
pins=()
case "$version" in 2.*) pins+=("cryptography<51") ;; esac
VIRTUAL_ENV="$venv" $uv pip install --quiet "apache-airflow==$version.*" ${pins[@]+"${pins[@]}"} -e "$root[sql,postgres,sqlite,openlineage]" \
  --group "$root/pyproject.toml:dev" >&2
echo "$venv"
