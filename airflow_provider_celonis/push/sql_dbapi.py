"""DB-API for the SQL source: streaming cursors, Arrow from cursors that have it, rows as typed batches.

A server-side cursor per driver where it has one; Arrow straight from cursors that hand it out; else
rows converted to Arrow batches of the columns' declared types.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from airflow_provider_celonis.exceptions import CelonisError


def driver_family(connection: Any) -> str:
    """The DB-API driver's top-level package name (psycopg2, psycopg, sqlite3, MySQLdb, …)."""
    return type(connection).__module__.split(".")[0]


def streaming_cursor(connection: Any, batch_rows: int) -> tuple[Any, str]:
    """A cursor that fetches from the server as rows are asked for, and how it streams."""
    family = driver_family(connection)
    name = f"celonis_push_{uuid.uuid4().hex[:12]}"
    if family in ("psycopg2", "psycopg"):
        cursor = connection.cursor(name=name)
        if family == "psycopg2":
            cursor.itersize = batch_rows
        return cursor, f"{family} server-side cursor"
    if family in ("MySQLdb", "pymysql"):
        cursors = importlib.import_module(f"{family}.cursors")
        return connection.cursor(cursors.SSCursor), f"{family} unbuffered SSCursor"
    if family == "sqlite3":
        return connection.cursor(), "sqlite3 cursor (steps the statement as rows are fetched)"
    cursor = connection.cursor()
    if hasattr(cursor, "arraysize"):
        cursor.arraysize = batch_rows
    return cursor, f"{family} default cursor (whether it streams is up to the driver)"


def arrow_from_cursor(cursor: Any, batch_rows: int) -> tuple[Iterator[pa.RecordBatch], str] | None:
    """Record batches straight from a cursor that hands out Arrow, or None."""
    if callable(getattr(cursor, "fetch_record_batch", None)):
        try:
            reader = cursor.fetch_record_batch(batch_rows)
        except TypeError:
            reader = cursor.fetch_record_batch()
        return iter(reader), "the cursor's fetch_record_batch()"
    if callable(getattr(cursor, "fetch_arrow_batches", None)):

        def batches() -> Iterator[pa.RecordBatch]:
            for table in cursor.fetch_arrow_batches():
                yield from table.to_batches()

        return batches(), "the cursor's fetch_arrow_batches()"
    if callable(getattr(cursor, "fetch_arrow_table", None)):
        return iter(cursor.fetch_arrow_table().to_batches()), "the cursor's fetch_arrow_table() (whole result)"
    return None


def execute(cursor: Any, sql: str, parameters: Any) -> None:
    """Run the query; a driver error becomes a CelonisError carrying the database's message."""
    try:
        if parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
    except Exception as exc:
        raise CelonisError(f"The query failed: {exc}") from exc


def fetch(cursor: Any, batch_rows: int) -> Sequence[Any]:
    """The next rows; a driver error (a query failing half-way) becomes a CelonisError."""
    try:
        return cursor.fetchmany(batch_rows)
    except Exception as exc:
        raise CelonisError(f"The query failed while its rows were read: {exc}") from exc


_POSTGRES_OIDS: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    25: pa.string(),
    700: pa.float32(),
    701: pa.float64(),
    1042: pa.string(),
    1043: pa.string(),
    1082: pa.date32(),
    1083: pa.time64("us"),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
}
_NUMERIC_OID = 1700


def declared_types(description: Sequence[Any], driver: str) -> list[pa.DataType | None]:
    """Arrow types of the result columns as the database declares them (None: infer from the values)."""
    types: list[pa.DataType | None] = []
    for column in description:
        kind = None
        if driver in ("psycopg", "psycopg2") and isinstance(column[1], int):
            kind = _POSTGRES_OIDS.get(column[1])
            if column[1] == _NUMERIC_OID and column[4] is not None and column[5] is not None:
                kind = pa.decimal128(column[4], column[5]) if 0 < column[4] <= 38 else None
        types.append(kind)
    return types


def rows_to_batch(
    rows: Sequence[Sequence[Any]], names: Sequence[str], types: Sequence[pa.DataType | None] | None = None
) -> pa.RecordBatch:
    """DB-API rows as a record batch: each column of its declared type, else typed by Arrow from its values."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrays = []
    for i, (name, values) in enumerate(zip(names, columns, strict=True)):
        kind = types[i] if types else None
        try:
            arrays.append(pa.array(values, type=kind, from_pandas=False))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            if kind is not None:  # the declared type did not take the values: let Arrow choose
                try:
                    arrays.append(pa.array(values, from_pandas=False))
                    continue
                except (pa.ArrowInvalid, pa.ArrowTypeError):
                    pass
            raise CelonisError(
                f"Column {name!r} of the query mixes value types Arrow cannot combine ({exc}): "
                "cast it to one type in the SQL."
            ) from None
    return pa.RecordBatch.from_arrays(arrays, names=list(names))
