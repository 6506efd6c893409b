"""Command line: ``python -m airflow_provider_celonis.emulator --host 127.0.0.1 --port 8089 [--seed FILE]``.

Also ``--print-connection`` (the connection value for the demo seed) and ``--write-examples DIR`` (the
example DAGs copied into a DAGs folder, with the environment lines that run them against the emulator).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from airflow_provider_celonis.emulator import seed as seeds


def connection_value(url: str, form: str = "json", auth: str = "api_key") -> str:
    """The ``AIRFLOW_CONN_CELONIS_DEFAULT`` value for the demo seed at ``url`` (JSON or URI form)."""
    from urllib.parse import quote

    url = url.rstrip("/")
    extra: dict[str, Any] = {
        "auth_type": auth,
        "ingestion_access_key_id": seeds.DEMO_S3_ACCESS_KEY,
        "ingestion_secret_access_key": seeds.DEMO_S3_SECRET_KEY,
    }
    login = None
    password = {"api_key": seeds.DEMO_API_KEY, "app_key": seeds.DEMO_APP_KEY, "oauth": seeds.DEMO_CLIENT_SECRET}[auth]
    if auth == "oauth":
        login = seeds.DEMO_CLIENT_ID
        extra["scopes"] = "integration.data-pools integration.data-pools:data_push"
    if form == "json":
        conn = {"conn_type": "celonis", "host": url, "password": password, "extra": extra}
        if login:
            conn["login"] = login
        return json.dumps(conn)
    scheme, _, rest = url.partition("://")
    user = f"{quote(login or '', safe='')}:{quote(password, safe='')}@"
    query = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in extra.items())
    # URI form: the path is the connection's schema, which says http for a local emulator.
    return f"celonis://{user}{rest}/{scheme}?{query}"


# The Airflow connection id the SQL push example reads from (example_dags/_demo_ids.py EXAMPLE_DB_CONN_ID).
EXAMPLE_DB_CONN_ID = "celonis_example_db"
# Seconds between status reads in the examples: short for the local emulator (the examples' default is 30).
EXAMPLE_POLL_INTERVAL = "1"


def example_sources() -> Path:
    """The folder holding the example DAGs: in the installed package, or ``example_dags/`` of a source checkout."""
    try:
        import airflow_provider_celonis.example_dags as package
    except ModuleNotFoundError:  # a source checkout on PYTHONPATH: the folder is mapped only when installed
        return Path(__file__).resolve().parents[2] / "example_dags"
    return Path(package.__file__).resolve().parent


def write_examples(target: str | os.PathLike[str], url: str) -> tuple[list[Path], dict[str, str]]:
    """Copy the example DAGs (and the ids module they import) into ``target``; return them and the env to set.

    The examples make their own source data (parquet, CSV, a SQLite database) when they run, into
    ``<target>/example-data``; the environment names that folder and the SQLite connection reading it.
    """
    source = example_sources()
    names = sorted(p.name for p in source.glob("*.py") if p.name.startswith(("example_", "_demo_ids")))
    if not names:
        raise FileNotFoundError(f"no example DAGs found in {source}; reinstall airflow-provider-celonis")
    folder = Path(target).expanduser().resolve()
    data = folder / "example-data"
    data.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        shutil.copyfile(source / name, folder / name)
        written.append(folder / name)
    env = {
        "AIRFLOW__CORE__DAGS_FOLDER": str(folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_CELONIS_DEFAULT": connection_value(url),
        f"AIRFLOW_CONN_{EXAMPLE_DB_CONN_ID.upper()}": json.dumps(
            {"conn_type": "sqlite", "host": str(data / "orders.db")}
        ),
        "CELONIS_EXAMPLE_DATA_DIR": str(data),
        # The team URL in the celonis:// asset URIs the asset examples schedule on: the emulator's.
        "CELONIS_TEAM_URL": url.rstrip("/"),
        "CELONIS_EXAMPLE_POLL_INTERVAL": EXAMPLE_POLL_INTERVAL,
    }
    return written, env


def main(argv: list[str] | None = None) -> int:
    """Start the emulator, or print the connection value for the demo seed."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_celonis.emulator",
        description="A local Celonis Platform emulator for Airflow DAG tests.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 for every "
        "interface, e.g. inside a container)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8089,
        help="TCP port to listen on (default 8089; 0 picks a free port, printed at start)",
    )
    parser.add_argument("--seed", help="JSON seed file (default: the built-in demo seed)")
    parser.add_argument(
        "--print-connection",
        action="store_true",
        help="print the AIRFLOW_CONN_CELONIS_DEFAULT value for the demo seed at --url and exit",
    )
    parser.add_argument(
        "--write-examples",
        metavar="DIR",
        help="copy the example DAGs into DIR (your DAGs folder) and print the `export` lines that "
        "run them against the emulator at --url, then exit",
    )
    parser.add_argument(
        "--url", help="the emulator URL for --print-connection and --write-examples (default http://HOST:PORT)"
    )
    parser.add_argument("--format", choices=["json", "uri"], default="json")
    parser.add_argument("--auth", choices=["api_key", "app_key", "oauth"], default="api_key")
    args = parser.parse_args(argv)
    url = args.url or f"http://{args.host}:{args.port}"

    if args.print_connection:
        print(connection_value(url, args.format, args.auth))
        return 0
    if args.write_examples:
        try:
            written, env = write_examples(args.write_examples, url)
        except OSError as exc:
            print(f"error: cannot write the examples to {args.write_examples!r}: {exc}", file=sys.stderr)
            return 2
        print(
            f"wrote {len(written)} files to {written[0].parent}: {', '.join(p.name for p in written)}", file=sys.stderr
        )
        print(
            '# Set these (or run this command inside eval "$(...)"), then: airflow dags test '
            "example_celonis_full_reload"
        )
        for name, value in env.items():
            print(f"export {name}={shlex.quote(value)}")
        return 0

    from airflow_provider_celonis.emulator.server import EmulatorServer
    from airflow_provider_celonis.emulator.state import EmulatorState

    try:
        seed = seeds.load_seed(args.seed) if args.seed else seeds.demo_seed()
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    server = EmulatorServer(args.host, args.port, EmulatorState(seed))
    print(f"Celonis emulator listening on {server.url}", flush=True)
    for pool in seed.get("pools", []):
        print(f"  pool {pool['id']} ({pool.get('name')})")
        for model in pool.get("data_models", []):
            print(f"    data model {model['id']} ({model.get('name')}): load -> {model.get('load_outcome', 'SUCCESS')}")
        for job in pool.get("data_jobs", []):
            print(f"    data job   {job['id']} ({job.get('name')}): run -> {job.get('outcome', 'SUCCESS')}")
        for conn in pool.get("connections", []):
            print(f"    ingestion connection {conn['id']} ({conn.get('name')}) access key {conn.get('access_key')}")
    creds = seed.get("credentials", {})
    print(
        f"  api keys: {', '.join(creds.get('api_keys', []))}; app keys: {', '.join(creds.get('app_keys', []))}; "
        f"oauth clients: {', '.join(c['client_id'] for c in creds.get('oauth_clients', []))}",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
