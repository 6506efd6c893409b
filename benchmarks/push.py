"""Benchmark the Data Push path against the emulator on 127.0.0.1: throughput and peak memory.

For each size (rows of ~10 mixed-type columns) it runs, each in a fresh process so peak RSS is its own:

- ``transfer_limit``: the parquet file's bytes posted as they are to the chunk endpoint (no conversion),
  then execute and wait: the fastest any client can push these bytes to this endpoint;
- ``naive``: read the whole file into memory, write one parquet body in memory, post it, execute, wait;
- ``operator_parquet``: CelonisPushDataOperator with ``source_path`` = the parquet file;
- ``operator_parquet_declared``: the same with the string columns' ``fieldLength`` declared in
  ``table_schema`` (their lengths are read while the file uploads, not before the job is created);
- ``operator_sql``: CelonisPushDataOperator with ``sql`` over the same rows in SQLite;

and against the same rows in a PostgreSQL server the benchmark starts itself (``tests/helpers/servers.py``, as the
tests do; skipped with a note when PostgreSQL is not installed):

- ``pg_source_limit``: the query fetched as Arrow through ADBC and dropped: the fastest any client reads it;
- ``pg_handwritten_adbc``: what a skilled user would script: fetch everything through ADBC, write one
  parquet file, upload it, execute, wait;
- ``operator_pg_adbc`` / ``operator_pg_dbapi``: CelonisPushDataOperator with ``sql`` on the PostgreSQL
  connection, ``sql_reader="adbc"`` and ``"dbapi"`` (the server-side cursor fallback);
- ``operator_pg_ingest``: CelonisIngestDataOperator with the same query (Standard Data Ingestion);

memory and the other sources (each re-encoded, so its reading is what is measured):

- ``operator_csv``: CelonisPushDataOperator with ``source_path`` = the rows as a CSV file;
- ``operator_parquet_one_row_group``: the rows as one parquet row group with INT64 timestamps (re-encoded
  for Data Push, read in slices);

and Standard Data Ingestion:

- ``ingest_put_limit``: the rows as one uncompressed parquet file, sent with one raw ``put_object`` (the
  boto3 client is made inside the clock, as the operator makes its own);
- ``operator_ingest_parquet``: CelonisIngestDataOperator with ``source_path`` = the snappy parquet file
  (re-encoded to uncompressed parquet on the way: included).

Each operator case also reports its peak spool disk (a thread polling the spool directory) and its peak
RSS above the process's own import-only baseline (Airflow, the provider and Arrow loaded, nothing read),
against the bound 2 × chunk + 100 MB.

Every case is timed from its first request to the job's DONE, after the process has loaded its
libraries and built the operator (as Airflow does when it parses the DAG file). Figures are medians of
``--repeat`` runs.
Usage: python benchmarks/push.py [--sizes 1000000,10000000] [--repeat 3] [--cases ...] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

CASES = (
    "transfer_limit",
    "naive",
    "operator_parquet",
    "operator_parquet_declared",
    "operator_sql",
    "pg_source_limit",
    "pg_handwritten_adbc",
    "operator_pg_adbc",
    "operator_pg_dbapi",
    "operator_pg_ingest",
    "operator_csv",
    "operator_parquet_one_row_group",
    "ingest_put_limit",
    "operator_ingest_parquet",
)
PG_CASES = tuple(c for c in CASES if "pg_" in c)
INGEST_CASES = ("operator_pg_ingest", "ingest_put_limit", "operator_ingest_parquet")
CHUNK_BYTES = 256 * 1024 * 1024  # the operators' default chunk_size_bytes / object size used here
MAX_SPOOLED = 2
# Extra CelonisIngestDataOperator arguments for the ingestion cases (JSON in BENCH_INGEST_OPTIONS, to explore).
INGEST_OPTIONS = json.loads(os.environ.get("BENCH_INGEST_OPTIONS") or "{}")
PG_QUERY = "select * from orders"
PG_DDL = (
    "create table orders (id bigint, amount double precision, qty bigint, customer text, city text, "
    "paid boolean, created_at timestamptz, day date, note text, price numeric(12, 2))"
)
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# --- data -----------------------------------------------------------------------------------------


def generate(rows: int):
    """A table of ``rows`` rows: ints, floats, decimals, unicode strings, bools, dates, UTC timestamps."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = pa.array(range(rows), pa.int64())
    cities = pa.array(["Berlin", "München", "Paris", "New York", "São Paulo"])
    return pa.table(
        {
            "id": ids,
            "amount": pc.multiply(pc.random(rows, initializer=1), 1000.0),
            "qty": pc.bit_wise_and(pc.multiply(ids, 7919), 1023),
            "customer": pc.binary_join_element_wise("customer-", pc.cast(pc.bit_wise_and(ids, 65535), pa.string()), ""),
            "city": pc.take(cities, pc.bit_wise_and(ids, 3)),
            "paid": pc.equal(pc.bit_wise_and(ids, 1), 0),
            "created_at": pc.cast(pc.add(pc.multiply(ids, 1000), 1_600_000_000_000_000), pa.timestamp("us", tz="UTC")),
            "day": pc.cast(pc.cast(pc.bit_wise_and(ids, 4095), pa.int32()), pa.date32()),
            "note": pc.binary_join_element_wise("note ", pc.cast(pc.multiply(ids, 31), pa.string()), ""),
            "price": pc.cast(pc.cast(pc.bit_wise_and(ids, 1048575), pa.int32()), pa.decimal128(12, 2)),
        }
    )


def data_files(parquet_path: str) -> dict[str, str]:
    """The other forms of the rows next to the parquet file: CSV, one row group, uncompressed."""
    base = parquet_path[: -len("-int96.parquet")]
    return {
        "csv": base + ".csv",
        "one_row_group": base + "-one-row-group.parquet",
        "uncompressed": base + "-uncompressed.parquet",
    }


def ensure_data(data_dir: str, rows: int) -> tuple[str, str]:
    """The parquet file and SQLite database of ``rows`` rows (made once, then reused)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    os.makedirs(data_dir, exist_ok=True)
    # INT96 timestamps, as Data Push takes them (evidence fact 6): the file can be sent unchanged.
    parquet_path = os.path.join(data_dir, f"rows-{rows}-int96.parquet")
    db_path = os.path.join(data_dir, f"rows-{rows}.sqlite")
    if not os.path.exists(parquet_path):
        pq.write_table(generate(rows), parquet_path + ".tmp", use_deprecated_int96_timestamps=True)
        os.replace(parquet_path + ".tmp", parquet_path)
    if not os.path.exists(db_path):
        db = sqlite3.connect(db_path + ".tmp")
        db.execute(
            "create table orders (id integer, amount real, qty integer, customer text, city text, paid integer,"
            " created_at text, day text, note text, price text)"
        )
        for batch in pq.ParquetFile(parquet_path).iter_batches(batch_size=100_000):
            columns = [c.to_pylist() for c in batch.columns]
            rows_ = [
                (r[0], r[1], r[2], r[3], r[4], int(r[5]), r[6].isoformat(), r[7].isoformat(), r[8], str(r[9]))
                for r in zip(*columns, strict=True)
            ]
            db.executemany("insert into orders values (?,?,?,?,?,?,?,?,?,?)", rows_)
        db.commit()
        db.close()
        os.replace(db_path + ".tmp", db_path)
    files = data_files(parquet_path)
    if not os.path.exists(files["csv"]):
        with pacsv.CSVWriter(files["csv"] + ".tmp", pq.read_schema(parquet_path)) as writer:
            for batch in pq.ParquetFile(parquet_path).iter_batches(batch_size=200_000):
                writer.write_batch(batch)
        os.replace(files["csv"] + ".tmp", files["csv"])
    for name, options in (("one_row_group", {"row_group_size": rows}), ("uncompressed", {"compression": "none"})):
        if not os.path.exists(files[name]):
            pq.write_table(pq.read_table(parquet_path), files[name] + ".tmp", **options)
            os.replace(files[name] + ".tmp", files[name])
    return parquet_path, db_path


def load_postgres(server, parquet_path: str) -> None:
    """The parquet file's rows as table ``orders`` in the benchmark's PostgreSQL (ADBC bulk ingest)."""
    import adbc_driver_postgresql.dbapi as adbc
    import pyarrow.parquet as pq

    with adbc.connect(server.uri()) as connection, connection.cursor() as cursor:
        cursor.execute("drop table if exists orders")
        cursor.execute(PG_DDL)
        cursor.adbc_ingest("orders", pq.ParquetFile(parquet_path).iter_batches(batch_size=200_000), mode="append")
        connection.commit()
    server.psql("vacuum analyze orders")


# --- one case, in its own process -------------------------------------------------------------------


def wait_done(hook, pool: str, job_id: str) -> None:
    while True:
        job = hook.get_push_job(pool, job_id)
        if job.status.is_terminal:
            if not job.status.is_success:
                raise RuntimeError(f"push job ended {job.status}: {job.logs}")
            return
        time.sleep(0.05)


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the
    parent through fork and exec, so a case started by a large parent would report the parent's peak."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class SpoolWatch:
    """Polls a directory: the most bytes it held at once."""

    def __init__(self, root: str) -> None:
        import threading

        self.root, self.peak = root, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for folder, _, names in os.walk(self.root):
                for name in names:
                    with contextlib.suppress(OSError):
                        total += os.path.getsize(os.path.join(folder, name))
            self.peak = max(self.peak, total)
            self._stop.wait(0.01)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def run_case(case: str, parquet_path: str, db_path: str) -> dict:
    import io

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from airflow_provider_celonis.emulator.seed import DEMO_CONNECTION_ID as connection
    from airflow_provider_celonis.emulator.seed import DEMO_POOL_ID as pool
    from airflow_provider_celonis.hooks.celonis import CelonisHook
    from airflow_provider_celonis.operators.ingest import CelonisIngestDataOperator
    from airflow_provider_celonis.operators.push import CelonisPushDataOperator

    class TI:
        def xcom_push(self, key, value):
            pass

    hook = CelonisHook()
    rows = pq.read_metadata(parquet_path).num_rows
    # Library loading is not push work: Arrow's compute kernels load on first use (~1 s here, once per
    # process), so every case loads them, and opens the connection, before the clock starts.
    pc.max(pa.array([1]))
    hook.list_data_pools()
    files = data_files(parquet_path)
    baseline_mb = peak_rss_mb()
    spool = tempfile.mkdtemp(prefix="bench-spool-")
    watch = SpoolWatch(spool)
    # The operator is built before the clock starts, as Airflow builds it when it parses the DAG file.
    operator = None
    if case in ("operator_pg_ingest", "operator_ingest_parquet"):
        source = {"sql": PG_QUERY, "sql_conn_id": "bench_pg"} if "pg" in case else {"source_path": parquet_path}
        operator = CelonisIngestDataOperator(
            task_id="bench",
            connection_id=connection,
            table_name="bench",
            file_name_prefix="bench-",
            max_spooled_chunks=MAX_SPOOLED,
            spool_dir=spool,
            **source,
            **INGEST_OPTIONS,
        )
    elif case.startswith("operator_"):
        source = {
            "operator_parquet": {"source_path": parquet_path},
            # the string columns' lengths declared: read while the file uploads, checked before execute
            "operator_parquet_declared": {
                "source_path": parquet_path,
                "table_schema": {name: {"fieldLength": 200} for name in ("customer", "city", "note")},
            },
            "operator_sql": {"sql": "select * from orders", "sql_conn_id": "bench_db"},
            "operator_pg_adbc": {"sql": PG_QUERY, "sql_conn_id": "bench_pg", "sql_reader": "adbc"},
            "operator_pg_dbapi": {"sql": PG_QUERY, "sql_conn_id": "bench_pg", "sql_reader": "dbapi"},
            "operator_csv": {"source_path": files["csv"]},
            "operator_parquet_one_row_group": {"source_path": files["one_row_group"]},
        }[case]
        operator = CelonisPushDataOperator(
            task_id="bench",
            pool_id=pool,
            table_name="bench",
            poll_interval=0.05,
            chunk_size_bytes=CHUNK_BYTES,
            max_spooled_chunks=MAX_SPOOLED,
            spool_dir=spool,
            **source,
        )
    started = time.perf_counter()
    job_id = None
    if case == "ingest_put_limit":  # the client is made inside the clock, as the operator makes its own
        client = hook.get_ingestion_client()
        with open(files["uncompressed"], "rb") as handle:
            client.put_object(Bucket="continuous", Key=f"connection/{connection}/bench/raw.parquet", Body=handle)
    elif case == "transfer_limit":
        job = hook.create_push_job(pool, "bench")
        hook.add_push_chunk(pool, job.id, parquet_path)
        hook.execute_push_job(pool, job.id)
        wait_done(hook, pool, job.id)
        job_id = job.id
    elif case in ("pg_source_limit", "pg_handwritten_adbc"):
        import adbc_driver_postgresql.dbapi as adbc
        from airflow.providers.common.compat.sdk import BaseHook

        from airflow_provider_celonis.push.sql import postgres_uri

        uri = postgres_uri(BaseHook.get_connection("bench_pg"))  # outside the clock, like the operator's lookup
        started = time.perf_counter()
        with adbc.connect(uri) as connection, connection.cursor() as cursor:
            cursor.execute(PG_QUERY)
            if case == "pg_source_limit":
                assert sum(batch.num_rows for batch in cursor.fetch_record_batch()) == rows
                job_id = None
            else:
                table = cursor.fetch_arrow_table()
        if case == "pg_handwritten_adbc":  # numeric arrives as text in an opaque type: keep its storage
            table = pa.table(
                [
                    c.storage if isinstance(c.type, pa.BaseExtensionType) else c
                    for c in (col.combine_chunks() for col in table.columns)
                ],
                names=table.column_names,
            )
            body = io.BytesIO()
            pq.write_table(table, body, use_deprecated_int96_timestamps=True)  # what Data Push reads (fact 6)
            job = hook.create_push_job(pool, "bench")
            hook.add_push_chunk(pool, job.id, body.getvalue())
            hook.execute_push_job(pool, job.id)
            wait_done(hook, pool, job.id)
            job_id = job.id
    elif case == "naive":
        table = pq.read_table(parquet_path)
        body = io.BytesIO()
        pq.write_table(table, body, use_deprecated_int96_timestamps=True)
        job = hook.create_push_job(pool, "bench")
        hook.add_push_chunk(pool, job.id, body.getvalue())
        hook.execute_push_job(pool, job.id)
        wait_done(hook, pool, job.id)
        job_id = job.id
    elif isinstance(operator, CelonisIngestDataOperator):
        operator.execute({"ti": TI()})
    else:
        job_id = operator.execute({"ti": TI()})["push_job_id"]
    seconds = time.perf_counter() - started
    peak_mb = peak_rss_mb()
    spool_peak_mb = watch.stop() / 1e6
    shutil.rmtree(spool, ignore_errors=True)
    if job_id:
        hook.delete_push_job(pool, job_id)  # frees the emulator's copy of the chunks
    return {
        "case": case,
        "rows": rows,
        "seconds": seconds,
        "peak_rss_mb": peak_mb,
        "baseline_rss_mb": baseline_mb,
        "spool_peak_mb": spool_peak_mb,
        "file_mb": os.path.getsize(parquet_path) / 1e6,
    }


# --- orchestration ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_emulator(workdir: str) -> tuple[subprocess.Popen, str, dict]:
    from airflow_provider_celonis.emulator import seed as seeds

    seed = seeds.demo_seed()
    seed["settings"]["push_seconds"] = 0.0
    seed["settings"]["registration_seconds"] = 0.0
    # A table without a primary key on the ingestion connection: objects are appended (no upsert work).
    seed["pools"][0]["connections"][0]["tables"].append({"name": "bench", "primary_key": []})
    seed_path = os.path.join(workdir, "seed.json")
    with open(seed_path, "w") as handle:
        json.dump(seed, handle)
    port = free_port()
    log = open(os.path.join(workdir, "emulator.log"), "w")  # noqa: SIM115 - lives as long as the emulator
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_celonis.emulator", "--port", str(port), "--seed", seed_path],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return process, url, seed
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the emulator did not start")


def reseed(url: str, seed: dict) -> None:
    """Load the seed again: the emulator drops its tables, objects and jobs."""
    import urllib.request

    request = urllib.request.Request(
        url + "/_emulator/seed",
        data=json.dumps(seed).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=60).read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--data-dir", default=os.path.join(HERE, ".data"))
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--parquet", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.parquet, args.db)))
        return

    from airflow_provider_celonis.emulator.__main__ import connection_value

    workdir = tempfile.mkdtemp(prefix="celonis-bench-")
    emulator, url, seed = start_emulator(workdir)
    env = {
        **os.environ,
        "AIRFLOW_CONN_CELONIS_DEFAULT": connection_value(url),
        "AIRFLOW_HOME": os.path.join(workdir, "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    cases = [c for c in args.cases.split(",") if c]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        raise SystemExit(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    postgres = contextlib.ExitStack()
    server = None
    if any(c in PG_CASES for c in cases):
        sys.path.insert(0, ROOT)
        from tests.helpers.servers import ServerUnavailable, postgres_server

        try:
            server = postgres.enter_context(postgres_server(dbname="bench"))
            env["AIRFLOW_CONN_BENCH_PG"] = server.airflow_connection()
        except (ServerUnavailable, ImportError) as exc:
            print(f"PostgreSQL cases skipped: {exc}")
            cases = [c for c in cases if c not in PG_CASES]
    try:
        for rows in (int(s) for s in args.sizes.split(",")):
            parquet_path, db_path = ensure_data(args.data_dir, rows)
            env["AIRFLOW_CONN_BENCH_DB"] = json.dumps({"conn_type": "sqlite", "host": db_path})
            if server is not None:
                load_postgres(server, parquet_path)
            results: dict[str, list[dict]] = {c: [] for c in cases}
            # Warm the emulator up (Arrow loads compute kernels on first use, ~1 s): no case pays for it.
            subprocess.run(
                [sys.executable, __file__, "--case", "transfer_limit", "--parquet", parquet_path, "--db", db_path],
                env=env,
                capture_output=True,
                check=False,
            )
            for _ in range(args.repeat):
                for case in cases:
                    reseed(url, seed)  # every case starts from empty tables (the emulator keeps them in memory)
                    out = subprocess.run(
                        [sys.executable, __file__, "--case", case, "--parquet", parquet_path, "--db", db_path],
                        env=env,
                        capture_output=True,
                        text=True,
                        check=False,
                    )
                    if out.returncode != 0:
                        raise SystemExit(f"{case} failed:\n{out.stderr[-3000:]}")
                    results[case].append(json.loads(out.stdout.strip().splitlines()[-1]))
            report(rows, results)
    finally:
        emulator.terminate()
        postgres.close()


def report(rows: int, results: dict[str, list[dict]]) -> None:
    """Medians per case, with ratios to the limits and the memory and spool bounds."""

    def median_seconds(case: str) -> float | None:
        runs = results.get(case)
        return statistics.median(r["seconds"] for r in runs) if runs else None

    file_mb = next(iter(results.values()))[0]["file_mb"]
    limits = {
        "transfer": median_seconds("transfer_limit"),
        "source": median_seconds("pg_source_limit"),
        "put": median_seconds("ingest_put_limit"),
        "handwritten": median_seconds("pg_handwritten_adbc"),
    }
    bound_mb = (2 * CHUNK_BYTES + 100e6) / 1e6
    spool_bound_mb = (MAX_SPOOLED + 1) * CHUNK_BYTES / 1e6
    print(
        f"\n{rows:,} rows, parquet file {file_mb:.0f} MB, medians of {len(next(iter(results.values())))} runs; "
        f"memory bound +{bound_mb:.0f} MB, spool bound {spool_bound_mb:.0f} MB"
    )
    print(f"{'case':<31}{'seconds':>9}{'rows/s':>12}{'peak RSS':>10}{'+base':>7}{'spool MB':>9}  ratio")
    for case, runs in results.items():
        seconds = median_seconds(case)
        peak = statistics.median(r["peak_rss_mb"] for r in runs)
        above = statistics.median(r["peak_rss_mb"] - r["baseline_rss_mb"] for r in runs)
        spool = statistics.median(r.get("spool_peak_mb", 0) for r in runs)
        ratios = []
        if case in PG_CASES and case != "pg_source_limit" and limits["source"]:
            ratios.append(f"{limits['source'] / seconds:.0%} of source limit")
        if case == "operator_pg_adbc" and limits["handwritten"]:
            ratios.append(f"{limits['handwritten'] / seconds:.0%} of hand-written")
        if case in INGEST_CASES and case != "ingest_put_limit" and limits["put"]:
            ratios.append(f"{limits['put'] / seconds:.0%} of raw put")
        if case not in INGEST_CASES and case not in PG_CASES and limits["transfer"]:
            ratios.append(f"{limits['transfer'] / seconds:.0%} of transfer limit")
        print(
            f"{case:<31}{seconds:>9.2f}{rows / seconds:>12,.0f}{peak:>10.0f}{above:>7.0f}{spool:>9.0f}  "
            f"{'; '.join(ratios)}"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
