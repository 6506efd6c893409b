"""A SQL query as a stream of Arrow record batches, by the fastest route the connection allows.

Routes (``sql_reader``):

- ``adbc``: an ADBC driver for the connection's database (``ADBC_DRIVERS``) reads Arrow batches
  directly (PostgreSQL through binary COPY); the ADBC URI is derived from the Airflow connection, which
  stays the only place for credentials;
- ``dbapi``: the connection's hook's DB-API connection with a server-side (streaming) cursor where the
  driver has one (``streaming_cursor``); Arrow straight from the cursor when it hands it out
  (``fetch_record_batch``, ``fetch_arrow_batches``, ``fetch_arrow_table``), else rows converted to Arrow;
- ``auto`` (default): ``adbc`` when the driver is installed and the connection suits it, else ``dbapi``.

The log says which route was taken and why; it never shows the URI or the password.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pyarrow as pa
import pyarrow.compute as pc

from airflow_provider_celonis.exceptions import CelonisError

SQL_READERS = ("auto", "adbc", "dbapi")
DEFAULT_SQL_BATCH_ROWS = 50_000
_log = logging.getLogger(__name__)


# --- ADBC: which driver for which connection type, and its URI ------------------------------------------


@dataclass(frozen=True)
class AdbcDriver:
    """An ADBC driver package for an Airflow connection type."""

    module: str  # the driver's DB-API module, e.g. adbc_driver_postgresql.dbapi
    extra: str  # the pip extra that installs it
    uri: Callable[[Any], str]  # Airflow Connection -> ADBC URI
    auto: bool = True  # used by sql_reader="auto" (else only when asked for)
    auto_note: str = ""  # why not, when auto is False


# libpq connection keywords an Airflow postgres connection's extras may carry into the URI.
_LIBPQ_KEYWORDS = frozenset(
    {
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "sslcrl",
        "sslpassword",
        "sslcompression",
        "sslsni",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "requiressl",
        "gssencmode",
        "krbsrvname",
        "connect_timeout",
        "application_name",
        "fallback_application_name",
        "options",
        "target_session_attrs",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "client_encoding",
        "channel_binding",
        "service",
        "passfile",
        "require_auth",
        "load_balance_hosts",
        "hostaddr",
    }
)
# Extras the postgres hook reads itself and does not hand to libpq.
_POSTGRES_HOOK_EXTRAS = frozenset(
    {"cursor", "sqlalchemy_scheme", "sqlalchemy_query", "enable_log_db_messages", "sqlalchemy_options"}
)
# Extras that mean the hook builds credentials itself (AWS IAM tokens): ADBC cannot follow.
_POSTGRES_HOOK_ONLY = frozenset(
    {"iam", "redshift", "redshift-serverless", "cluster-identifier", "workgroup-name", "aws_conn_id"}
)


class NotForAdbc(Exception):
    """A connection that cannot be read through ADBC; the message says why."""


def postgres_uri(conn: Any) -> str:
    """A libpq URI from an Airflow postgres connection (password and names percent-quoted)."""
    extras = dict(conn.extra_dejson or {})
    hook_only = sorted(k for k in extras if k in _POSTGRES_HOOK_ONLY and extras[k] not in (None, False, ""))
    if hook_only:
        raise NotForAdbc(f"its extras {', '.join(hook_only)} are handled by the postgres hook only")
    unknown = sorted(k for k in extras if k not in _LIBPQ_KEYWORDS | _POSTGRES_HOOK_EXTRAS | _POSTGRES_HOOK_ONLY)
    if unknown:
        raise NotForAdbc(f"its extras {', '.join(unknown)} are not libpq connection keywords")
    query = {k: str(v) for k, v in extras.items() if k in _LIBPQ_KEYWORDS and v is not None}
    host = conn.host or ""
    if host.startswith("/"):  # a unix socket folder goes in the query, not the authority
        query["host"], host = host, ""
    auth = ""
    if conn.login:
        auth = quote(conn.login, safe="")
        if conn.password:
            auth += ":" + quote(conn.password, safe="")
        auth += "@"
    port = f":{int(conn.port)}" if conn.port else ""
    uri = f"postgresql://{auth}{quote(host, safe='')}{port}/{quote(conn.schema or '', safe='')}"
    return uri + ("?" + urlencode(query) if query else "")


def sqlite_uri(conn: Any) -> str:
    """A SQLite file URI from an Airflow sqlite connection (the file path is its host)."""
    if not conn.host:
        raise NotForAdbc("it names no database file (host)")
    extras = {k: str(v) for k, v in (conn.extra_dejson or {}).items()}
    return f"file:{quote(conn.host, safe='/:')}" + ("?" + urlencode(extras) if extras else "")


def flightsql_uri(conn: Any) -> str:
    """A Flight SQL URI (``grpc://`` or ``grpc+tls://`` host:port) from a connection without credentials."""
    if conn.login or conn.password:
        raise NotForAdbc("Flight SQL credentials are not passed on from the connection")
    scheme = "grpc+tls" if (conn.extra_dejson or {}).get("tls") else "grpc"
    return f"{scheme}://{conn.host}:{int(conn.port or 443)}"


ADBC_DRIVERS: dict[str, AdbcDriver] = {
    "postgres": AdbcDriver("adbc_driver_postgresql.dbapi", "postgres", postgres_uri),
    "postgresql": AdbcDriver("adbc_driver_postgresql.dbapi", "postgres", postgres_uri),
    "sqlite": AdbcDriver(
        "adbc_driver_sqlite.dbapi",
        "sqlite",
        sqlite_uri,
        auto=False,
        auto_note="SQLite columns have no fixed types: ADBC's SQLite driver guesses each column's type from "
        "the first rows and fails on a later row of another type (sql_reader='adbc' forces it)",
    ),
    "flightsql": AdbcDriver(
        "adbc_driver_flightsql.dbapi",
        "flightsql",
        flightsql_uri,
        auto=False,
        auto_note="untested here (sql_reader='adbc' forces it)",
    ),
}


def _redact(message: str, conn: Any) -> str:
    """``message`` without the connection's password, plain or percent-quoted."""
    password = getattr(conn, "password", None)
    if password:
        for form in {password, quote(password, safe=""), quote(password)}:
            message = message.replace(form, "***")
    return message


# --- declared types ---------------------------------------------------------------------------------


def _numeric_type(typmod: int | None, name: str) -> pa.DataType | None:
    """The decimal type of a PostgreSQL ``numeric(p, s)`` column from its typmod; None when unconstrained."""
    if typmod is None or typmod < 4:
        return None
    precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0x7FF
    if precision > 38 or scale > precision:
        raise CelonisError(
            f"Column {name!r} is numeric({precision},{scale}): Celonis takes at most 38 digits; cast "
            "it in the query (e.g. to numeric(38, s) or double precision)."
        )
    return pa.decimal128(precision, scale)


def decimal_from_text(array: pa.Array, name: str, declared: pa.DataType | None) -> pa.Array:
    """Decimal text (ADBC's PostgreSQL ``numeric``) as Arrow decimals: the declared type, else the narrowest."""
    if declared is None:
        valid = pc.drop_null(array)
        if len(valid) == 0:
            return pa.nulls(len(array), pa.decimal128(1, 0))
        digits = pc.utf8_length(pc.replace_substring(valid, "-", ""))
        point = pc.find_substring(valid, ".")
        has_point = pc.greater_equal(point, 0)
        scale = pc.if_else(has_point, pc.subtract(pc.subtract(digits, point), 1), 0)
        integer = pc.if_else(has_point, pc.subtract(point, pc.cast(pc.starts_with(valid, "-"), pa.int32())), digits)
        s = int(pc.max(scale).as_py() or 0)
        p = max(1, int(pc.max(integer).as_py() or 0) + s)
        if p > 38:
            raise CelonisError(
                f"Column {name!r} holds numbers of {p} digits: Celonis takes at most 38; cast it in "
                "the query (e.g. to numeric(38, s) or double precision)."
            )
        declared = pa.decimal128(p, s)
    try:
        return pc.cast(array, declared)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise CelonisError(
            f"Column {name!r} holds a value that is not a {declared} number ({exc}), such as NaN or "
            "Infinity: cast it in the query (e.g. to double precision)."
        ) from None


def adbc_postgres_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """ADBC's PostgreSQL batch with ``numeric`` as exact decimals and other opaque columns as their storage."""
    arrays, fields, changed = [], [], False
    for field, column in zip(batch.schema, batch.columns, strict=True):
        if isinstance(field.type, pa.BaseExtensionType):
            changed = True
            storage = column.storage
            metadata = field.metadata or {}
            if metadata.get(b"POSTGRESQL:type", metadata.get(b"ADBC:postgresql:typname")) == b"numeric":
                typmod = metadata.get(b"POSTGRESQL:typmod")
                storage = decimal_from_text(
                    storage, field.name, _numeric_type(int(typmod) if typmod is not None else None, field.name)
                )
            column, field = storage, pa.field(field.name, storage.type, field.nullable, field.metadata)
        arrays.append(column)
        fields.append(field)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields)) if changed else batch


# PostgreSQL type OIDs (as DB-API type codes) and the Arrow type their Python values go into, so the
# DB-API route yields the same schema as ADBC (int4 stays int32, numeric(p,s) stays decimal(p,s)).
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


# --- the routes -------------------------------------------------------------------------------------


def _driver_family(connection: Any) -> str:
    """The DB-API driver's top-level package name (psycopg2, psycopg, sqlite3, MySQLdb, …)."""
    return type(connection).__module__.split(".")[0]


def streaming_cursor(connection: Any, batch_rows: int) -> tuple[Any, str]:
    """A cursor that fetches from the server as rows are asked for, and how it streams."""
    family = _driver_family(connection)
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


def _arrow_from_cursor(cursor: Any, batch_rows: int) -> tuple[Iterator[pa.RecordBatch], str] | None:
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


def _execute(cursor: Any, sql: str, parameters: Any) -> None:
    try:
        if parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
    except Exception as exc:
        raise CelonisError(f"The query failed: {exc}") from exc


def _fetch(cursor: Any, batch_rows: int) -> Sequence[Any]:
    try:
        return cursor.fetchmany(batch_rows)
    except Exception as exc:
        raise CelonisError(f"The query failed while its rows were read: {exc}") from exc


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
        family = _driver_family(connection)
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
            f"ADBC could not connect with connection {conn.conn_id!r}: {_redact(str(exc), conn)} "
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
                raise CelonisError(f"The query failed: {_redact(str(exc), conn)}") from None
            empty = True
            for batch in batches:
                empty = False
                yield adbc_postgres_batch(batch) if postgres else batch
            if empty:  # no rows: the columns still define the (emptied) table
                batch = pa.RecordBatch.from_pylist([], schema=batches.schema)
                yield adbc_postgres_batch(batch) if postgres else batch
        finally:
            cursor.close()
    finally:
        connection.close()


def _dbapi_batches(
    hook: Any, sql: str, parameters: Any, batch_rows: int, why: str, log: logging.Logger
) -> Iterator[pa.RecordBatch]:
    connection = hook.get_conn()
    family = _driver_family(connection)
    try:
        cursor, streaming = streaming_cursor(connection, batch_rows)
        try:
            _execute(cursor, sql, parameters)
            arrow = _arrow_from_cursor(cursor, batch_rows)
            if arrow is not None:
                batches, how = arrow
                log.info("SQL source: reading Arrow from the DB-API cursor (%s), because %s.", how, why)
                yield from batches
                return
            log.info("SQL source: reading DB-API rows (%s, %d rows at a time), because %s.", streaming, batch_rows, why)
            fetched = 0
            rows = _fetch(cursor, batch_rows)  # a psycopg2 named cursor describes its result on the first fetch
            if not cursor.description:
                raise CelonisError("The SQL statement returned no result set: give a query that selects rows.")
            names = [str(column[0]) for column in cursor.description]
            types = declared_types(cursor.description, family)
            while rows:
                fetched += len(rows)
                yield rows_to_batch(rows, names, types)
                rows = _fetch(cursor, batch_rows)
            if not fetched:  # no rows: the columns still define the (emptied) table
                yield rows_to_batch([], names, types)
        finally:
            cursor.close()
    finally:
        connection.close()
