"""ADBC for the SQL source: the driver for each connection type, its URI, and exact PostgreSQL numerics.

The URI is derived from the Airflow connection (the only place for credentials) and never logged;
PostgreSQL ``numeric`` arrives as text and is cast back to its declared decimal type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pyarrow as pa
import pyarrow.compute as pc

from airflow_provider_celonis.exceptions import CelonisError

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


def redact(message: str, conn: Any) -> str:
    """``message`` without the connection's password, plain or percent-quoted."""
    password = getattr(conn, "password", None)
    if password:
        for form in {password, quote(password, safe=""), quote(password)}:
            message = message.replace(form, "***")
    return message


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
