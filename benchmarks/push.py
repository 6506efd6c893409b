"""Benchmark the Data Push path against the emulator on 127.0.0.1: throughput and peak memory.

For each size (rows of ~10 mixed-type columns) it runs, each in a fresh process so peak RSS is its own:

- ``transfer_limit``: the parquet file's bytes posted as they are to the chunk endpoint (no conversion),
  then execute and wait: the fastest any client can push these bytes to this endpoint;
- ``naive``: read the whole file into memory, write one parquet body in memory, post it, execute, wait;
- ``operator_parquet``: CelonisPushDataOperator with ``source_path`` = the parquet file;
- ``operator_sql``: CelonisPushDataOperator with ``sql`` over the same rows in SQLite.

Every case is timed from its first request to the job's DONE, after the process has loaded its
libraries. Figures are medians of ``--repeat`` runs.
Usage: python benchmarks/push.py [--sizes 1000000,10000000] [--repeat 3] [--cases ...] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

CASES = ("transfer_limit", "naive", "operator_parquet", "operator_sql")
HERE = os.path.dirname(os.path.abspath(__file__))


# --- data -----------------------------------------------------------------------------------------

def generate(rows: int):
    """A table of ``rows`` rows: ints, floats, decimals, unicode strings, bools, dates, UTC timestamps."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = pa.array(range(rows), pa.int64())
    cities = pa.array(["Berlin", "München", "Paris", "New York", "São Paulo"])
    return pa.table({
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
    })


def ensure_data(data_dir: str, rows: int) -> tuple[str, str]:
    """The parquet file and SQLite database of ``rows`` rows (made once, then reused)."""
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
        db.execute("create table orders (id integer, amount real, qty integer, customer text, city text, paid integer,"
                   " created_at text, day text, note text, price text)")
        for batch in pq.ParquetFile(parquet_path).iter_batches(batch_size=100_000):
            columns = [c.to_pylist() for c in batch.columns]
            rows_ = [(r[0], r[1], r[2], r[3], r[4], int(r[5]), r[6].isoformat(), r[7].isoformat(), r[8], str(r[9]))
                     for r in zip(*columns, strict=True)]
            db.executemany("insert into orders values (?,?,?,?,?,?,?,?,?,?)", rows_)
        db.commit()
        db.close()
        os.replace(db_path + ".tmp", db_path)
    return parquet_path, db_path


# --- one case, in its own process -------------------------------------------------------------------

def wait_done(hook, pool: str, job_id: str) -> None:
    while True:
        job = hook.get_push_job(pool, job_id)
        if job.status.is_terminal:
            if not job.status.is_success:
                raise RuntimeError(f"push job ended {job.status}: {job.logs}")
            return
        time.sleep(0.05)


def run_case(case: str, parquet_path: str, db_path: str) -> dict:
    import io

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from airflow_provider_celonis.emulator.seed import DEMO_POOL_ID as pool
    from airflow_provider_celonis.hooks.celonis import CelonisHook
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
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    if case == "transfer_limit":
        job = hook.create_push_job(pool, "bench")
        hook.add_push_chunk(pool, job.id, parquet_path)
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
    else:
        source = {"source_path": parquet_path} if case == "operator_parquet" else {
            "sql": "select * from orders", "sql_conn_id": "bench_db"}
        summary = CelonisPushDataOperator(task_id="bench", pool_id=pool, table_name="bench", poll_interval=0.05,
                                          **source).execute({"ti": TI()})
        job_id = summary["push_job_id"]
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    hook.delete_push_job(pool, job_id)  # frees the emulator's copy of the chunks
    return {"case": case, "rows": rows, "seconds": seconds, "peak_rss_mb": peak_mb, "baseline_rss_mb": baseline_mb,
            "file_mb": os.path.getsize(parquet_path) / 1e6}


# --- orchestration ----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_emulator(workdir: str) -> tuple[subprocess.Popen, str]:
    from airflow_provider_celonis.emulator import seed as seeds

    seed = seeds.demo_seed()
    seed["settings"]["push_seconds"] = 0.0
    seed["settings"]["registration_seconds"] = 0.0
    seed_path = os.path.join(workdir, "seed.json")
    with open(seed_path, "w") as handle:
        json.dump(seed, handle)
    port = free_port()
    log = open(os.path.join(workdir, "emulator.log"), "w")  # noqa: SIM115 - lives as long as the emulator
    process = subprocess.Popen([sys.executable, "-m", "airflow_provider_celonis.emulator", "--port", str(port),
                                "--seed", seed_path], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return process, url
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the emulator did not start")


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
    emulator, url = start_emulator(workdir)
    env = {**os.environ, "AIRFLOW_CONN_CELONIS_DEFAULT": connection_value(url),
           "AIRFLOW_HOME": os.path.join(workdir, "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    cases = [c for c in args.cases.split(",") if c]
    try:
        for rows in (int(s) for s in args.sizes.split(",")):
            parquet_path, db_path = ensure_data(args.data_dir, rows)
            env["AIRFLOW_CONN_BENCH_DB"] = json.dumps({"conn_type": "sqlite", "host": db_path})
            results: dict[str, list[dict]] = {c: [] for c in cases}
            for _ in range(args.repeat):
                for case in cases:
                    out = subprocess.run([sys.executable, __file__, "--case", case, "--parquet", parquet_path,
                                          "--db", db_path], env=env, capture_output=True, text=True, check=False)
                    if out.returncode != 0:
                        raise SystemExit(f"{case} failed:\n{out.stderr[-3000:]}")
                    results[case].append(json.loads(out.stdout.strip().splitlines()[-1]))
            report(rows, results)
    finally:
        emulator.terminate()


def report(rows: int, results: dict[str, list[dict]]) -> None:
    file_mb = next(iter(results.values()))[0]["file_mb"]
    limit = statistics.median(r["seconds"] for r in results.get("transfer_limit", [])) \
        if results.get("transfer_limit") else None
    print(f"\n{rows:,} rows, parquet file {file_mb:.0f} MB, medians of {len(next(iter(results.values())))} runs")
    print(f"{'case':<18}{'seconds':>9}{'rows/s':>13}{'MB/s':>8}{'peak RSS MB':>13}{'vs limit':>10}")
    for case, runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        peak = statistics.median(r["peak_rss_mb"] for r in runs)
        ratio = f"{limit / seconds:>9.0%}" if limit else ""
        print(f"{case:<18}{seconds:>9.2f}{rows / seconds:>13,.0f}{file_mb / seconds:>8.1f}{peak:>13.0f} {ratio}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
