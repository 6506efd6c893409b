"""A SQL query as a stream of Arrow record batches, by the fastest route the connection allows.

Routes (``sql_reader``):

- ``adbc``: an ADBC driver for the connection's database (``sql_adbc.ADBC_DRIVERS``) reads Arrow batches
  directly (PostgreSQL through binary COPY); the ADBC URI is derived from the Airflow connection, which
  stays the only place for credentials;
- ``dbapi``: the connection's hook's DB-API connection with a server-side (streaming) cursor where the
  driver has one (``sql_dbapi.streaming_cursor``); Arrow straight from the cursor when it hands it out
  (``fetch_record_batch``, ``fetch_arrow_batches``, ``fetch_arrow_table``), else rows converted to Arrow;
- ``auto`` (default): ``adbc`` when the driver is installed and the connection suits it, else ``dbapi``.

The log says which route was taken and why; it never shows the URI or the password.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from airflow_provider_celonis.exceptions import CelonisError
from airflow_provider_celonis.push.sql_adbc import (  # noqa: F401  (names of the SQL source, importable here)
    ADBC_DRIVERS,
    AdbcDriver,
    NotForAdbc,
    adbc_postgres_batch,
    postgres_uri,
    redact,
)
from airflow_provider_celonis.push.sql_dbapi import (  # noqa: F401
    arrow_from_cursor,
    declared_types,
    driver_family,
    execute,
    fetch,
    rows_to_batch,
    streaming_cursor,
)

SQL_READERS = ("auto", "adbc", "dbapi")
DEFAULT_SQL_BATCH_ROWS = 50_000
_log = logging.getLogger(__name__)


def choose_route(conn: Any, reader: str, parameters: Any) -> tuple[str, AdbcDriver | None, str]:
    """``adbc`` or ``dbapi`` for this connection, the ADBC driver, and why (for the log)."""
    if reader not in SQL_READERS:
        raise CelonisError(f"sql_reader must be one of {', '.join(SQL_READERS)}, not {reader!r}.")
    if reader == "dbapi":
        return "dbapi", None, "sql_reader='dbapi'"
    driver = ADBC_DRIVERS.get(conn.conn_type or "")
    why_not = None
    if driver is None:
        why_not = f"no ADBC driver is known for connection type {conn.conn_type!r}"
    elif importlib.util.find_spec(driver.module.split(".")[0]) is None:
        why_not = (
            f"{driver.module.split('.')[0]} is not installed (pip install 'airflow-provider-celonis[{driver.extra}]')"
        )
    elif reader == "auto" and not driver.auto:
        why_not = driver.auto_note
    elif parameters is not None and conn.conn_type not in ("postgres", "postgresql"):
        why_not = "bound parameters are passed to ADBC for PostgreSQL only"
    else:
        try:
            driver.uri(conn)
        except NotForAdbc as exc:
            why_not = f"the connection does not suit ADBC: {exc}"
    if why_not is None:
        return "adbc", driver, f"{driver.module.split('.')[0]} is installed for connection type {conn.conn_type!r}"
    if reader == "adbc":
        raise CelonisError(f"sql_reader='adbc' cannot read connection {conn.conn_id!r}: {why_not}.")
    return "dbapi", None, why_not


def _bind_literally(hook: Any, sql: str, parameters: Any) -> str:
    """``sql`` with ``parameters`` bound by the connection's own DB-API driver (its quoting, its paramstyle)."""
    connection = hook.get_conn()
    try:
        family = driver_family(connection)
        if family == "psycopg":
            import psycopg

            return psycopg.ClientCursor(connection).mogrify(sql, parameters)
        if family == "psycopg2":
            with connection.cursor() as cursor:
                bound = cursor.mogrify(sql, parameters)
            return (
                bound.decode(connection.encoding if hasattr(connection, "encoding") else "utf8")
                if isinstance(bound, bytes)
                else bound
            )
        raise NotForAdbc(f"the {family} driver cannot bind parameters into the query text")
    finally:
        connection.close()


def sql_batches(
    conn_id: str,
    sql: str,
    parameters: Any = None,
    batch_rows: int = DEFAULT_SQL_BATCH_ROWS,
    reader: str = "auto",
    log: logging.Logger | None = None,
) -> Iterator[pa.RecordBatch]:
    """Rows of a query through an Airflow database connection, as Arrow record batches (see the module)."""
    from airflow.providers.common.compat.sdk import BaseHook

    log = log or _log
    conn = BaseHook.get_connection(conn_id)
    route, driver, why = choose_route(conn, reader, parameters)
    if route == "adbc":
        assert driver is not None
        log.info("SQL source: reading Arrow through ADBC (%s), because %s.", driver.module, why)
        yield from _adbc_batches(conn, driver, sql, parameters)
        return
    hook = conn.get_hook()
    if not hasattr(hook, "get_conn"):
        raise CelonisError(f"Connection {conn_id!r} is not a database connection (its hook has no get_conn()).")
    yield from _dbapi_batches(hook, sql, parameters, batch_rows, why, log)


def _adbc_batches(conn: Any, driver: AdbcDriver, sql: str, parameters: Any) -> Iterator[pa.RecordBatch]:
    if parameters is not None:
        sql = _bind_literally(conn.get_hook(), sql, parameters)
    dbapi = importlib.import_module(driver.module)
    try:
        connection = dbapi.connect(driver.uri(conn))
    except Exception as exc:  # the driver's own errors; never show the URI's password
        raise CelonisError(
            f"ADBC could not connect with connection {conn.conn_id!r}: {redact(str(exc), conn)} "
            "(sql_reader='dbapi' reads through the connection's hook instead)."
        ) from None
    postgres = driver.module.startswith("adbc_driver_postgresql")
    try:
        cursor = connection.cursor()
        try:
            try:
                cursor.execute(sql)
                batches = cursor.fetch_record_batch()
            except Exception as exc:
                raise CelonisError(f"The query failed: {redact(str(exc), conn)}") from None
            empty = True
            while (batch := _next_batch(batches, conn)) is not None:
                empty = False
                yield adbc_postgres_batch(batch) if postgres else batch
            if empty:  # no rows: the columns still define the (emptied) table
                batch = pa.RecordBatch.from_pylist([], schema=batches.schema)
                yield adbc_postgres_batch(batch) if postgres else batch
        finally:
            cursor.close()
    finally:
        connection.close()


def _next_batch(batches: Any, conn: Any) -> pa.RecordBatch | None:
    """The reader's next batch or None at the end; a failure half-way names the database's error."""
    try:
        return next(batches)
    except StopIteration:
        return None
    except Exception as exc:  # e.g. a runtime error in a later row, or ADBC SQLite meeting a second type
        raise CelonisError(f"The query failed while its rows were read: {redact(str(exc), conn)}") from None


def _dbapi_batches(
    hook: Any, sql: str, parameters: Any, batch_rows: int, why: str, log: logging.Logger
) -> Iterator[pa.RecordBatch]:
    connection = hook.get_conn()
    family = driver_family(connection)
    try:
        cursor, streaming = streaming_cursor(connection, batch_rows)
        try:
            execute(cursor, sql, parameters)
            arrow = arrow_from_cursor(cursor, batch_rows)
            if arrow is not None:
                batches, how = arrow
                log.info("SQL source: reading Arrow from the DB-API cursor (%s), because %s.", how, why)
                yield from batches
                return
            log.info("SQL source: reading DB-API rows (%s, %d rows at a time), because %s.", streaming, batch_rows, why)
            fetched = 0
            rows = fetch(cursor, batch_rows)  # a psycopg2 named cursor describes its result on the first fetch
            if not cursor.description:
                raise CelonisError("The SQL statement returned no result set: give a query that selects rows.")
            names = [str(column[0]) for column in cursor.description]
            types = declared_types(cursor.description, family)
            while rows:
                fetched += len(rows)
                yield rows_to_batch(rows, names, types)
                rows = fetch(cursor, batch_rows)
            if not fetched:  # no rows: the columns still define the (emptied) table
                yield rows_to_batch([], names, types)
        finally:
            cursor.close()
    finally:
        connection.close()
