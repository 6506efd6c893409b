"""The ``every_type`` table the SQL source tests read from PostgreSQL: its DDL, its rows, and its Arrow form."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest

EVERY_TYPE_ROWS = 3000
TEXT = 'Größe ✓ 😀 東京 "q", a;b\nline'
TABLE_DDL = """
create table if not exists every_type (
    id integer primary key, big bigint, small smallint, amount numeric(12, 2), precise numeric(38, 10),
    loose numeric, ratio double precision, flag boolean, day date, at_time time, at timestamp,
    at_tz timestamptz, name text, code varchar(20)
)"""


def expected_rows() -> list[tuple]:
    """The rows of ``every_type``: every PostgreSQL type the source reads, nulls in every column."""
    rows = []
    for i in range(EVERY_TYPE_ROWS):

        def maybe(value, i=i):
            return None if i % 7 == 3 else value

        rows.append(
            (
                i,
                maybe(i * 3_000_000_000),
                maybe(i % 30000 - 15000),
                maybe(decimal.Decimal(f"{i * 13 - 20000}.{i % 100:02d}")),
                maybe(decimal.Decimal(f"{i}.{i:010d}"[:21]) if i else decimal.Decimal("-0.0000000001")),
                maybe(decimal.Decimal(f"{i % 50}.{'5' * (i % 4)}0") if i % 4 else decimal.Decimal(i)),
                maybe(i / 7),
                maybe(i % 3 == 0),
                maybe(dt.date(1990, 1, 1) + dt.timedelta(days=i * 11)),
                maybe(dt.time(i % 24, i % 60, i % 60, i * 37 % 1_000_000)),
                maybe(dt.datetime(2001, 2, 3, 4, 5, 6, 789012) + dt.timedelta(minutes=i * 97)),
                maybe(dt.datetime(2024, 3, 31, 0, 30, tzinfo=dt.UTC) + dt.timedelta(seconds=i * 1801, microseconds=i)),
                maybe(f"{TEXT} {i}" if i % 11 else ""),
                maybe(f"código-{i}-é"),
            )
        )
    return rows


def expected_table(rows: list[tuple]) -> pa.Table:
    """``rows`` as the Arrow table the source reads them into (the types PostgreSQL declares)."""
    columns = list(zip(*rows, strict=True))
    loose_scale = max(-v.as_tuple().exponent for v in columns[5] if v is not None)
    loose_digits = max(len(v.as_tuple().digits) + v.as_tuple().exponent for v in columns[5] if v is not None)
    types = [
        pa.int32(),
        pa.int64(),
        pa.int16(),
        pa.decimal128(12, 2),
        pa.decimal128(38, 10),
        pa.decimal128(loose_digits + loose_scale, loose_scale),
        pa.float64(),
        pa.bool_(),
        pa.date32(),
        pa.time64("us"),
        pa.timestamp("us"),
        pa.timestamp("us", "UTC"),
        pa.string(),
        pa.string(),
    ]
    names = [
        "id",
        "big",
        "small",
        "amount",
        "precise",
        "loose",
        "ratio",
        "flag",
        "day",
        "at_time",
        "at",
        "at_tz",
        "name",
        "code",
    ]
    return pa.table([pa.array(c, t) for c, t in zip(columns, types, strict=True)], names=names)


def fill_every_type(connection: str) -> None:
    """Create ``every_type`` in the database of Airflow connection ``connection`` (JSON) and fill it anew."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_PG_FILL", connection)
        db = PostgresHook(postgres_conn_id="pg_fill").get_conn()
        with db.cursor() as cursor:
            cursor.execute(TABLE_DDL)
            cursor.execute("truncate every_type")
            cursor.executemany(
                "insert into every_type values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                expected_rows(),
            )
        db.commit()
        db.close()
