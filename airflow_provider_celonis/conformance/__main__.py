"""``python -m airflow_provider_celonis.conformance``: check a Celonis team against the provider's assumptions.

Exit codes: 0 nothing differs, 1 something differs, 2 bad arguments or an unusable connection.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_AGREES, EXIT_DIFFERS, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The command line, with help for every option."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_celonis.conformance",
        description="Probe a Celonis team and print, per API assumption of the provider, whether Celonis agrees, "
        "differs or was not checked. Read-only unless --write is given. Exit code 0: nothing differs; "
        "1: something differs; 2: bad arguments or an unusable connection. See docs/conformance.md.",
    )
    parser.add_argument(
        "--conn-id",
        default="celonis_default",
        help="the Airflow connection (type celonis) to probe with (default: celonis_default)",
    )
    parser.add_argument(
        "--pool", required=True, help="the data pool to probe: its id (from the Celonis UI URL) or its exact name"
    )
    parser.add_argument(
        "--data-model",
        metavar="ID",
        help="a data model of the pool (id or exact name): probes last-load and the load history; "
        "with --write also a partial reload of its first table",
    )
    parser.add_argument(
        "--data-job",
        metavar="ID",
        help="a data job of the pool (id or exact name): probes its status, logs/status, its "
        "executions and the log chain of its newest failed execution (run it once first)",
    )
    parser.add_argument(
        "--ingestion-connection",
        metavar="ID",
        help="the id of the data connection the connection's ingestion key belongs to, for the "
        "ingestion HEAD probe (without it a 403 may only mean another connection's key)",
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="also write: push 3 rows of every column type into --scratch-table (two push jobs, at "
        "most 3 submits of the team's 250 per hour) and, with --data-model, start a partial "
        "reload of one table",
    )
    parser.add_argument(
        "--scratch-table",
        metavar="NAME",
        help="with --write: the pool table the test push replaces; must not exist yet unless --overwrite",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="with --write: allow --scratch-table to name an existing table (its data is replaced)",
    )
    parser.add_argument(
        "--probe-double-start",
        action="store_true",
        help="with --write and --data-model: start the partial reload a second time while the first "
        "runs, to see whether Celonis refuses it (409); if it does not, THE LOAD RUNS TWICE",
    )
    parser.add_argument(
        "--submit-spacing",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="with --write: seconds to wait before resubmitting a push job refused with 409 "
        "(default 30, as Celonis support advised)",
    )
    parser.add_argument(
        "--wait-timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="longest wait for a push job or a reload to end (default 600)",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="seconds between status reads while waiting (default 2)",
    )
    parser.add_argument(
        "--report",
        metavar="FILE",
        help="write a JSON report with every raw answer (credentials and tokens redacted) to FILE, "
        "to attach to a bug report",
    )
    return parser


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse combinations that cannot work, naming the fix (argparse exits with code 2)."""
    if args.write and not (args.scratch_table or "").strip():
        parser.error(
            "--write needs --scratch-table NAME: a new pool table for the test push (or an existing one "
            "with --overwrite)."
        )
    if not args.write:
        for flag, value in (
            ("--scratch-table", args.scratch_table),
            ("--overwrite", args.overwrite),
            ("--probe-double-start", args.probe_double_start),
        ):
            if value:
                parser.error(f"{flag} only applies with --write: add --write, or leave {flag} out.")
    if args.probe_double_start and not args.data_model:
        parser.error("--probe-double-start needs --data-model ID: the model whose reload is started twice.")
    if args.scratch_table and ("/" in args.scratch_table or args.scratch_table != args.scratch_table.strip()):
        parser.error(f"--scratch-table {args.scratch_table!r} must be a plain table name (no '/', no outer spaces).")
    for flag, value in (
        ("--submit-spacing", args.submit_spacing),
        ("--wait-timeout", args.wait_timeout),
        ("--poll-interval", args.poll_interval),
    ):
        if value < 0:
            parser.error(f"{flag} must be 0 or more seconds, not {value:g}.")


def _pick(kind: str, flag: str, wanted: str, items: list[dict]) -> str:
    """An id from a listing by id or exact name; a usage error listing what exists otherwise."""
    from airflow_provider_celonis.conformance.probes import UsageError

    match = [i for i in items if str(i.get("id")) == wanted] or [i for i in items if str(i.get("name")) == wanted]
    if len(match) == 1:
        return str(match[0]["id"])
    names = ", ".join(f"{i.get('name')!r} ({i.get('id')})" for i in items[:20]) or "(none)"
    why = "matches several" if match else "is not in the pool"
    raise UsageError(f"{flag} {wanted!r} {why} {kind}s. Pass {flag} with one of: {names}.")


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, probe, print one line per assumption, write the report; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    check_arguments(parser, args)

    from airflow_provider_celonis.conformance import report
    from airflow_provider_celonis.conformance.probes import Probe, UsageError, run_write_probes
    from airflow_provider_celonis.exceptions import CelonisError
    from airflow_provider_celonis.hooks.celonis import CelonisHook

    redactor = report.Redactor()
    hook = CelonisHook(args.conn_id, retry_limit=1)
    try:
        settings = hook.settings
    except Exception as exc:  # noqa: BLE001 - a missing or bad connection is a usage error
        print(
            f"error: connection {args.conn_id!r} is not usable: {type(exc).__name__}: {exc}. Define it (e.g. "
            f"AIRFLOW_CONN_{args.conn_id.upper()}) or pass --conn-id.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    for value in (settings.secret, settings.ingestion_access_key_id, settings.ingestion_secret_access_key):
        redactor.add(value)
    probe = Probe(
        hook,
        redactor,
        ingestion_connection_id=args.ingestion_connection,
        wait_timeout=args.wait_timeout,
        poll_interval=args.poll_interval,
        submit_spacing=args.submit_spacing,
    )
    started = dt.datetime.now(dt.UTC)
    try:
        probe.token()
        probe.pools(args.pool)
        models, jobs, tables = probe.listings()
        if args.data_model:
            probe.data_model_id = _pick("data model", "--data-model", args.data_model, models)
            probe.data_model()
        if args.data_job:
            probe.data_job_id = _pick("data job", "--data-job", args.data_job, jobs)
            probe.data_job()
        probe.ingestion()
        if args.write:
            run_write_probes(probe, args.scratch_table, tables, args.overwrite, args.probe_double_start)
        probe.check_dates()
        _not_probed(probe, args)
    except UsageError as exc:
        print(redactor.text(f"error: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    except (CelonisError, OSError) as exc:
        print(redactor.text(f"error: {type(exc).__name__}: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    for line in report.lines(probe.findings, redactor):
        print(line)
    print(report.summary(probe.findings))
    if args.report:
        meta = {
            "started": started.isoformat(),
            "team": hook.base_url,
            "conn_id": args.conn_id,
            "auth": settings.auth_type.value,
            "pool": probe.pool_id,
            "data_model": probe.data_model_id,
            "data_job": probe.data_job_id,
            "write": args.write,
            "scratch_table": args.scratch_table,
            "probe_double_start": args.probe_double_start,
            "provider": _version(),
        }
        document = report.report_json(probe.findings, probe.exchanges, meta, redactor)
        Path(args.report).write_text(document, encoding="utf-8")
        print(f"Report written to {args.report}: attach it to your issue.")
    differs = any(f.verdict is report.Verdict.DIFFERS for f in probe.findings.values())
    return EXIT_DIFFERS if differs else EXIT_AGREES


def _not_probed(probe: object, args: argparse.Namespace) -> None:
    """Mark what the options left out, saying which option would check it."""
    from airflow_provider_celonis.conformance.assumptions import ASSUMPTIONS
    from airflow_provider_celonis.conformance.report import Verdict

    why = {
        "data-model": "needs --data-model",
        "data-job": "needs --data-job",
        "write": "needs --write",
        "write+data-model": "needs --write and --data-model",
        "oauth": "the connection is not OAuth",
        "ingestion": "no ingestion credentials",
        "read": "not answered",
    }
    for assumption in ASSUMPTIONS:
        if assumption.id not in probe.findings:  # type: ignore[attr-defined]
            probe.found(assumption.id, Verdict.NOT_CHECKED, why[assumption.needs])  # type: ignore[attr-defined]


def _version() -> str:
    from airflow_provider_celonis.hooks._http import user_agent

    return user_agent()


def main() -> None:
    """Console entry point."""
    sys.exit(run())


if __name__ == "__main__":
    main()
