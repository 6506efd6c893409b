"""The SQL source against a real PostgreSQL server (the ``pg`` fixture): every type round-trips exactly
through ADBC and through the DB-API fallback, parameters are bound, the fallback streams, errors are clear."""

from __future__ import annotations

import json
import logging

import pyarrow as pa
import pytest

from airflow_provider_celonis.exceptions import CelonisError
from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.push.sql import choose_route, postgres_uri, sql_batches
from tests.helpers.emulator import POOL
from tests.helpers.postgres import EVERY_TYPE_ROWS, TEXT, expected_rows, expected_table
from tests.helpers.push import as_pushed, landed, push_op
from tests.helpers.tasks import context

pytest.importorskip("airflow.providers.postgres")
pytest.importorskip("adbc_driver_postgresql")


def logged(caplog, capsys) -> str:
    """What the task logged (Airflow 3 prints task logs through structlog, Airflow 2 through logging)."""
    return caplog.text + capsys.readouterr().out


@pytest.mark.parametrize("reader", ["adbc", "dbapi"])
def test_every_type_round_trips_exactly(emulator, pg, reader, caplog, capsys):
    with caplog.at_level(logging.INFO):
        summary = push_op(
            sql="select * from every_type order by id", sql_conn_id=pg, sql_reader=reader, sql_batch_rows=700
        ).execute(context())
    assert summary["rows"] == EVERY_TYPE_ROWS
    got, expected = landed(emulator), as_pushed(expected_table(expected_rows()))
    assert got.schema.names == expected.schema.names
    for name in expected.schema.names:
        assert got.column(name).type == expected.column(name).type, name
        assert got.column(name).to_pylist() == expected.column(name).to_pylist(), name
    route = "through ADBC" if reader == "adbc" else "DB-API rows (psycopg"
    text = logged(caplog, capsys)
    assert route in text
    assert f"Source read: {EVERY_TYPE_ROWS:,} rows" in text  # the progress line
    job = CelonisHook().list_push_jobs(POOL)[0]
    schema = {c["columnName"]: c for c in job.raw["tableSchema"]["columns"]}
    assert schema["amount"]["columnType"] == "FLOAT" and schema["amount"]["decimals"] == 2
    assert schema["amount"]["fieldLength"] == 12
    assert schema["name"]["fieldLength"] == max(len(f"{TEXT} {i}".encode()) for i in range(EVERY_TYPE_ROWS))


def test_auto_reads_postgres_through_adbc(emulator, pg, caplog, capsys):
    with caplog.at_level(logging.INFO):
        push_op(sql="select id, amount from every_type", sql_conn_id=pg).execute(context())
    assert "reading Arrow through ADBC (adbc_driver_postgresql.dbapi)" in logged(caplog, capsys)
    assert landed(emulator).column("amount").type == pa.decimal128(12, 2)


@pytest.mark.parametrize("reader", ["adbc", "dbapi"])
def test_bound_parameters(emulator, pg, reader):
    push_op(
        sql="select id, name from every_type where id < %(below)s and name like %(like)s order by id",
        sql_parameters={"below": 100, "like": "Größe%'; drop table every_type; --%"},
        sql_conn_id=pg,
        sql_reader=reader,
    ).execute(context())
    assert landed(emulator).num_rows == 0  # the quote is data, not SQL
    push_op(
        sql="select id, name from every_type where id < %s and name like %s order by id",
        sql_parameters=[100, "Größe ✓%"],
        sql_conn_id=pg,
        sql_reader=reader,
    ).execute(context())
    got = landed(emulator)
    want = [r for r in expected_rows() if r[0] < 100 and r[12] and r[12].startswith("Größe ✓")]
    assert got.column("id").to_pylist() == [r[0] for r in want] and len(want) > 50
    assert got.column("name").to_pylist() == [r[12] for r in want]


def test_dbapi_fallback_streams_with_a_server_side_cursor(pg):
    # Row 20,001 divides by zero. A client-side cursor runs the whole query at execute() and fails before any
    # row; a server-side cursor hands out the first batches, computed as they are fetched, and fails later.
    sql = "select i, 1 / (20001 - i) as x from generate_series(1, 30000) as i"
    batches = sql_batches(pg, sql, batch_rows=1000, reader="dbapi")
    first = next(batches)
    assert first.num_rows == 1000 and first.column("i").to_pylist()[:2] == [1, 2]
    with pytest.raises(CelonisError, match="division by zero"):
        for _ in batches:
            pass


def test_broken_query_names_the_error_and_leaves_no_job(emulator, pg):
    for reader in ("adbc", "dbapi"):
        with pytest.raises(CelonisError, match='relation "no_such_table" does not exist'):
            push_op(sql="select * from no_such_table", sql_conn_id=pg, sql_reader=reader).execute(context())
    assert CelonisHook().list_push_jobs(POOL) == []  # no push job was created


def test_adbc_uri_comes_from_the_connection_and_is_never_logged(emulator, pg, postgres, caplog, capsys):
    from airflow.providers.common.compat.sdk import BaseHook

    conn = BaseHook.get_connection(pg)
    assert postgres_uri(conn) == postgres.uri()  # the password's @ : / % ? # é quoted
    with caplog.at_level(logging.DEBUG):
        push_op(sql="select id from every_type", sql_conn_id=pg, sql_reader="adbc").execute(context())
    text = logged(caplog, capsys)
    assert "through ADBC" in text and postgres.password not in text and "p%40ss" not in text


def test_wrong_password_fails_without_showing_it(emulator, postgres, monkeypatch):
    wrong = json.loads(postgres.airflow_connection())
    wrong["password"] = "wrong-secret-Ω"
    monkeypatch.setenv("AIRFLOW_CONN_PG_WRONG", json.dumps(wrong))
    with pytest.raises(CelonisError, match="password authentication failed") as info:
        push_op(sql="select 1 as id", sql_conn_id="pg_wrong", sql_reader="adbc").execute(context())
    assert "wrong-secret" not in str(info.value) and "wrong-secret-%CE%A9" not in str(info.value)


def test_route_choice_says_why(pg, monkeypatch):
    from airflow.providers.common.compat.sdk import BaseHook

    conn = BaseHook.get_connection(pg)
    assert choose_route(conn, "auto", None)[0] == "adbc"
    assert choose_route(conn, "dbapi", None) == ("dbapi", None, "sql_reader='dbapi'")
    monkeypatch.setenv(
        "AIRFLOW_CONN_PG_IAM", json.dumps({"conn_type": "postgres", "host": "h", "extra": {"iam": True}})
    )
    route, _, why = choose_route(BaseHook.get_connection("pg_iam"), "auto", None)
    assert route == "dbapi" and "iam" in why
    with pytest.raises(CelonisError, match="sql_reader='adbc' cannot read connection 'pg_iam'.*iam"):
        choose_route(BaseHook.get_connection("pg_iam"), "adbc", None)
    with pytest.raises(CelonisError, match="sql_reader must be one of auto, adbc, dbapi, not 'fast'"):
        choose_route(conn, "fast", None)


def test_numeric_nan_fails_naming_the_column(emulator, pg):
    with pytest.raises(CelonisError, match="Column 'weird'.*NaN"):
        push_op(sql="select 1 as id, 'NaN'::numeric as weird", sql_conn_id=pg, sql_reader="adbc").execute(context())


def test_empty_result_keeps_declared_types(emulator, pg):
    push_op(data=pa.table({"id": [1]})).execute(context())
    summary = push_op(sql="select id, amount, at_tz from every_type where id < 0", sql_conn_id=pg).execute(context())
    got = landed(emulator)
    assert summary["rows"] == 0 and got.num_rows == 0
    assert got.schema.field("amount").type == pa.decimal128(12, 2)
    assert got.schema.field("at_tz").type == pa.timestamp("us")  # INT96 keeps the UTC wall time, no zone


def test_a_query_failing_half_way_through_adbc_names_the_error(pg):
    batches = sql_batches(pg, "select i, 1 / (200001 - i) as x from generate_series(1, 300000) as i", reader="adbc")
    with pytest.raises(CelonisError, match="division by zero"):
        for _ in batches:
            pass


def test_sqlite_reads_through_dbapi_unless_adbc_is_asked_for(emulator, tmp_path, monkeypatch, caplog, capsys):
    import sqlite3

    pytest.importorskip("adbc_driver_sqlite")
    db = sqlite3.connect(tmp_path / "s.db")
    db.execute("create table t (id integer, name text)")
    db.executemany("insert into t values (?, ?)", [(i, f"ü{i}") for i in range(50)])
    db.commit()
    db.close()
    monkeypatch.setenv("AIRFLOW_CONN_S_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "s.db")}))
    push_op(sql="select * from t", sql_conn_id="s_db").execute(context())
    assert "reading DB-API rows (sqlite3 cursor" in logged(caplog, capsys)
    push_op(sql="select * from t", sql_conn_id="s_db", sql_reader="adbc").execute(context())
    assert "reading Arrow through ADBC (adbc_driver_sqlite.dbapi)" in logged(caplog, capsys)
    assert landed(emulator).column("name").to_pylist() == [f"ü{i}" for i in range(50)]
