"""The emulator's table store: what landed in each data pool table, with Celonis's write semantics.

- Data Push REPLACE: the table becomes the job's rows; DELTA with keys: upsert; DELTA without keys: append.
- Strings are cut to the schema's field length, or to ``fallbackVarcharLength`` (default 80) when the
  job has no table schema, as Celonis does (the trap the provider must avoid).
- Standard Data Ingestion: upsert by primary key; a row whose age column is smaller than the stored
  row's is not applied, an equal or larger one is.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

DEFAULT_VARCHAR_LENGTH = 80
_KEY_SEPARATOR = "\x1f"

_CELONIS_TYPES = {
    "INTEGER": pa.int64(),
    "FLOAT": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "TIME": pa.time64("us"),
    "DATETIME": pa.timestamp("us"),
    "STRING": pa.string(),
}


class PushRejected(Exception):
    """A push job's data cannot be applied; the message goes into the job's ``logs``."""


def int64_timestamp_columns(data: bytes) -> list[str]:
    """The columns of a parquet chunk stored as INT64 timestamps (not INT96)."""
    try:
        schema = pq.read_metadata(pa.BufferReader(data)).schema
    except Exception as exc:  # noqa: BLE001
        raise PushRejected(f"Chunk is not a readable parquet file: {exc}") from None
    return [
        schema.column(i).path
        for i in range(len(schema))
        if schema.column(i).physical_type == "INT64" and "Timestamp" in str(schema.column(i).logical_type)
    ]


def read_parquet(data: bytes) -> pa.Table:
    """Read a parquet chunk or file (INT96 timestamps as microseconds, without a zone: UTC wall time)."""
    try:
        return pq.read_table(pa.BufferReader(data), coerce_int96_timestamp_unit="us")  # zero-copy, no GIL
    except Exception as exc:  # noqa: BLE001 - any parse failure is a rejected chunk
        raise PushRejected(f"Chunk is not a readable parquet file: {exc}") from None


def compressed_columns(data: bytes) -> list[str]:
    """``column (CODEC)`` for every parquet column chunk written with a compression codec."""
    try:
        metadata = pq.read_metadata(pa.BufferReader(data))
    except Exception as exc:  # noqa: BLE001 - any parse failure is a rejected file
        raise PushRejected(f"File is not a readable parquet file: {exc}") from None
    found: dict[str, str] = {}
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index in range(row_group.num_columns):
            column = row_group.column(index)
            if column.compression != "UNCOMPRESSED":
                found.setdefault(column.path_in_schema, column.compression)
    return [f"{name} ({codec})" for name, codec in found.items()]


def read_csv(data: bytes, options: dict[str, Any] | None, table_schema: dict[str, Any] | None) -> pa.Table:
    """Read a CSV chunk with the job's ``csvParsingOptions``; columns typed by the table schema, else strings."""
    options = options or {}
    separator = options.get("separatorSequence") or ","
    quote = options.get("quoteSequence") or '"'
    escape = options.get("escapeSequence")
    parse = pacsv.ParseOptions(
        delimiter=separator,
        quote_char=quote,
        escape_char=escape if escape and escape != quote else False,
        double_quote=not escape or escape == quote,
        newlines_in_values=True,
    )
    try:
        # Every column is read as text (no type guessing: "007" stays "007"); the header comes first.
        # An empty unquoted cell is null, a quoted empty string ("") is an empty string [guess].
        header = pacsv.open_csv(pa.BufferReader(data), parse_options=parse).schema.names
        convert = pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            null_values=[""],
        )
        table = pacsv.read_csv(pa.BufferReader(data), parse_options=parse, convert_options=convert)
    except Exception as exc:  # noqa: BLE001
        raise PushRejected(f"Chunk is not a readable CSV file with the job's parsing options: {exc}") from None
    if table_schema:
        table = _cast_to_schema(table, table_schema, options)
    return table


_JAVA_NUMERIC = {"y": "year", "M": "month", "d": "day", "H": "hour", "m": "minute", "s": "second", "S": "millisecond"}
_JAVA_ZONES = {"X", "Z"}


def _java_tokens(pattern: str) -> list[tuple[str, int] | str]:
    """A SimpleDateFormat pattern as (letter, count) fields and literal strings ('' is a quote)."""
    tokens: list[tuple[str, int] | str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            end = pattern.find("'", i + 1)
            while end != -1 and pattern[end + 1 : end + 2] == "'":  # '' inside a quoted literal
                end = pattern.find("'", end + 2)
            if end == -1:
                raise PushRejected(f"dateFormat {pattern!r} has an unterminated quote.")
            tokens.append(pattern[i + 1 : end].replace("''", "'") if end > i + 1 else "'")
            i = end + 1
        elif char.isascii() and char.isalpha():
            count = 1
            while pattern[i + count : i + count + 1] == char:
                count += 1
            if char not in _JAVA_NUMERIC and char not in _JAVA_ZONES:
                raise PushRejected(f"dateFormat {pattern!r}: the emulator does not read the letter {char!r}.")
            tokens.append((char, count))
            i += count
        else:
            tokens.append(char)
            i += 1
    return tokens


def java_date_parser(pattern: str) -> Callable[[str], dt.datetime]:
    """A parser with java.text.SimpleDateFormat semantics (lenient, as by default), for what the API reads.

    A numeric field reads as many digits as there are unless the next field is numeric too (then exactly
    its letter count): so ``S``, ``SSS`` and ``SSSSSS`` all read the whole fraction as a number of
    **milliseconds**, and ``.123456`` adds 123,456 ms (2 min 3.456 s). Zones: ``X``/``XX``/``XXX``
    (``Z``, ``+01``, ``+0100``, ``+01:00``) and ``Z`` (``+0100``); the result is UTC wall time.
    """
    tokens = _java_tokens(pattern)
    parts = []
    for index, token in enumerate(tokens):
        if isinstance(token, str):
            parts.append(re.escape(token))
            continue
        letter, count = token
        if letter in _JAVA_ZONES:
            parts.append(r"(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)")
            continue
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        abutting = isinstance(following, tuple) and following[0] in _JAVA_NUMERIC
        digits = rf"\d{{{count}}}" if abutting else r"\d+"
        parts.append(f"(?P<{_JAVA_NUMERIC[letter]}>{digits})")
    try:
        regex = re.compile("".join(parts))
    except re.error:
        raise PushRejected(f"dateFormat {pattern!r} repeats a field; the emulator cannot read it.") from None

    def parse(text: str) -> dt.datetime:
        found = regex.fullmatch(text.strip())
        if not found:
            raise ValueError(f"{text!r} does not match dateFormat {pattern!r}")
        value = {k: int(v) for k, v in found.groupdict().items() if v is not None and k != "zone"}
        moment = dt.datetime(value.get("year", 1970), 1, 1) + dt.timedelta(
            days=value.get("day", 1) - 1,
            hours=value.get("hour", 0),
            minutes=value.get("minute", 0),
            seconds=value.get("second", 0),
            milliseconds=value.get("millisecond", 0),
        )
        month = value.get("month", 1) - 1  # lenient: month 13 is January of the next year
        moment = moment.replace(year=moment.year + month // 12, month=1 + month % 12) if month else moment
        zone = found.groupdict().get("zone")
        if zone and zone != "Z":
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
            moment -= sign * offset
        return moment

    return parse


def _parse_java_datetimes(column: pa.ChunkedArray, pattern: str, name: str) -> pa.Array:
    parse = java_date_parser(pattern)
    values = []
    for text in column.to_pylist():
        try:
            values.append(None if text is None else parse(text))
        except (ValueError, OverflowError) as exc:
            raise PushRejected(f"Column {name}: {exc}") from None
    return pa.array(values, pa.timestamp("us"))


def _cast_to_schema(table: pa.Table, table_schema: dict[str, Any], options: dict[str, Any] | None = None) -> pa.Table:
    columns = {c["columnName"]: c for c in table_schema.get("columns", [])}
    options = options or {}
    per_column = {c.get("columnName"): c for c in options.get("additionalColumnOptions") or []}
    arrays = []
    for name in table.column_names:
        column = table.column(name)
        spec = columns.get(name)
        target = _CELONIS_TYPES.get(str(spec.get("columnType", "STRING")).upper()) if spec else None
        if target == pa.float64() and spec.get("decimals") is not None:  # a number with fixed decimals
            target = pa.decimal128(int(spec.get("fieldLength") or 38), int(spec["decimals"]))
        date_format = (per_column.get(name) or {}).get("dateFormat") or options.get("dateFormat")
        if target == pa.timestamp("us") and date_format:  # DATETIME columns read with the Java pattern
            arrays.append(_parse_java_datetimes(column, date_format, name))
            continue
        if target is not None and target != pa.string():
            try:
                if pa.types.is_boolean(target):
                    column = pc.equal(pc.utf8_lower(column), "true")
                else:
                    column = pc.cast(column, target)
            except Exception as exc:  # noqa: BLE001
                raise PushRejected(f"Column {name}: values do not fit type {spec['columnType']}: {exc}") from None
        arrays.append(column)
    return pa.table(arrays, names=table.column_names)


def check_flat(table: pa.Table) -> None:
    """A flat push cannot take nested types (lists, structs, maps)."""
    for field in table.schema:
        if pa.types.is_nested(field.type):
            raise PushRejected(f"Column {field.name} has the nested type {field.type}: a flat push cannot take it.")


def cut_strings(table: pa.Table, table_schema: dict[str, Any] | None, fallback_length: int | None) -> pa.Table:
    """Cut string values to their VARCHAR length, as Celonis does (silently)."""
    lengths = {}
    if table_schema:
        for column in table_schema.get("columns", []):
            if column.get("fieldLength"):
                lengths[column["columnName"]] = int(column["fieldLength"])
    default = fallback_length or DEFAULT_VARCHAR_LENGTH
    arrays = []
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            limit = lengths.get(name, default)
            longest = pc.max(pc.binary_length(column)).as_py() or 0
            if longest > limit:  # bytes ≥ characters: no value is longer than the limit otherwise (skip the copy)
                column = pc.utf8_slice_codeunits(column, 0, limit)
        arrays.append(column)
    return pa.table(arrays, names=table.column_names)


def _key_strings(table: pa.Table, keys: Sequence[str]) -> list[str]:
    missing = [k for k in keys if k not in table.column_names]
    if missing:
        raise PushRejected(f"Key column(s) {', '.join(missing)} missing from the data.")
    columns = [pc.cast(table.column(k), pa.string()).to_pylist() for k in keys]
    return [_KEY_SEPARATOR.join("" if v is None else v for v in row) for row in zip(*columns, strict=True)]


def _align(new: pa.Table, old: pa.Table) -> pa.Table:
    """Give ``new`` the column order and types of ``old`` where it can (Celonis keeps the table's schema)."""
    if new.schema.equals(old.schema):
        return new
    try:
        return pa.concat_tables([old.slice(0, 0), new], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise PushRejected(f"Data does not match the existing table: {exc}") from None


def concat(tables: list[pa.Table]) -> pa.Table:
    """All chunks of a job as one table."""
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise PushRejected(f"Chunks of the job have incompatible schemas: {exc}") from None


def upsert(old: pa.Table | None, new: pa.Table, keys: Sequence[str]) -> pa.Table:
    """Rows of ``new`` replace rows of ``old`` with the same key; the last duplicate in ``new`` wins."""
    if old is not None and new.num_rows == 0:
        return old
    new_keys = _key_strings(new, keys)
    last = {key: index for index, key in enumerate(new_keys)}
    if len(last) != len(new_keys):
        new = new.take(pa.array(sorted(last.values()), type=pa.int64()))
    if old is None or old.num_rows == 0:
        return new
    new = _align(new, old)
    keep = pc.invert(pc.is_in(pa.array(_key_strings(old, keys)), value_set=pa.array(list(last), type=pa.string())))
    return concat([old.filter(keep), new])


def append(old: pa.Table | None, new: pa.Table) -> pa.Table:
    """Rows of ``new`` after the rows of ``old``."""
    if old is None:
        return new
    return concat([old, _align(new, old)])


def upsert_with_age(old: pa.Table | None, new: pa.Table, keys: Sequence[str], age_column: str | None) -> pa.Table:
    """Ingestion semantics: upsert by key, but a row older than the stored one is not applied."""
    if not age_column or old is None or old.num_rows == 0:
        return upsert(old, new, keys)
    if age_column not in new.column_names:
        raise PushRejected(f"Age column {age_column} missing from the file.")
    stored_age = dict(zip(_key_strings(old, keys), old.column(age_column).to_pylist(), strict=True))
    new_keys = _key_strings(new, keys)
    ages = new.column(age_column).to_pylist()
    applied = [
        i
        for i, (key, age) in enumerate(zip(new_keys, ages, strict=True))
        if key not in stored_age or stored_age[key] is None or (age is not None and age >= stored_age[key])
    ]
    return upsert(old, new.take(pa.array(applied, type=pa.int64())), keys)


def to_parquet_bytes(table: pa.Table) -> bytes:
    """A table as parquet bytes (for the admin API)."""
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()
