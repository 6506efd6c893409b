"""Command line: ``python -m airflow_provider_celonis.emulator --host 127.0.0.1 --port 8089 [--seed FILE]``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from airflow_provider_celonis.emulator import seed as seeds


def connection_value(url: str, form: str = "json", auth: str = "api_key") -> str:
    """The ``AIRFLOW_CONN_CELONIS_DEFAULT`` value for the demo seed at ``url`` (JSON or URI form)."""
    from urllib.parse import quote

    url = url.rstrip("/")
    extra: dict[str, Any] = {"auth_type": auth,
                             "ingestion_access_key_id": seeds.DEMO_S3_ACCESS_KEY,
                             "ingestion_secret_access_key": seeds.DEMO_S3_SECRET_KEY}
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


def main(argv: list[str] | None = None) -> int:
    """Start the emulator, or print the connection value for the demo seed."""
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_celonis.emulator",
                                     description="A local Celonis Platform emulator for Airflow DAG tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--seed", help="JSON seed file (default: the built-in demo seed)")
    parser.add_argument("--print-connection", action="store_true",
                        help="print the AIRFLOW_CONN_CELONIS_DEFAULT value for the demo seed at --url and exit")
    parser.add_argument("--url", help="the emulator URL for --print-connection (default http://HOST:PORT)")
    parser.add_argument("--format", choices=["json", "uri"], default="json")
    parser.add_argument("--auth", choices=["api_key", "app_key", "oauth"], default="api_key")
    args = parser.parse_args(argv)

    if args.print_connection:
        print(connection_value(args.url or f"http://{args.host}:{args.port}", args.format, args.auth))
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
    print(f"  api keys: {', '.join(creds.get('api_keys', []))}; app keys: {', '.join(creds.get('app_keys', []))}; "
          f"oauth clients: {', '.join(c['client_id'] for c in creds.get('oauth_clients', []))}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
