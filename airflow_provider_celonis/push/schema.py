"""Arrow types as Celonis takes them, and the push job's table schema derived from the data.

Without a table schema Celonis makes every string a VARCHAR(80) and cuts longer values silently, so
the schema is always derived from the data: types from the Arrow schema, string lengths from the
longest value seen (in UTF-8 bytes, which is never less than the character count). Every conversion
here is lossless; a type Celonis cannot take fails before anything is uploaded, naming the column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from airflow_provider_celonis.exceptions import CelonisError

# Vertica's VARCHAR limit, which Celonis tables sit on [guess: not stated by Celonis]. A longer value
# cannot be pushed without being cut, so it fails before upload instead.
MAX_VARCHAR_BYTES = 65_000
# The length declared for a string column whose values are all null or empty.
MIN_VARCHAR_BYTES = 1
CELONIS_COLUMN_TYPES = ("INTEGER", "FLOAT", "BOOLEAN", "DATE", "TIME", "DATETIME", "STRING")
_INT64_MAX = 2**63 - 1


class UnsupportedTypeError(CelonisError):
    """A column's type has no lossless Celonis equivalent."""


def _normalize_array(name: str, array: pa.Array | pa.ChunkedArray, nested: bool = False) -> pa.Array | pa.ChunkedArray:
    """The same values in a type Celonis takes (see the module docstring); raises for the rest."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        return _normalize_array(name, array.cast(kind.value_type), nested)
    if nested and (pa.types.is_nested(kind) or pa.types.is_union(kind)):
        return array  # Standard Data Ingestion takes nested data as it is ("Data types: Flat and nested")
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return array.cast(pa.string())
    if pa.types.is_uint64(kind):
        biggest = pc.max(array).as_py()
        if biggest is not None and biggest > _INT64_MAX:
            raise UnsupportedTypeError(
                f"Column {name!r} is uint64 with values above 2**63-1, which Celonis integers cannot hold: "
                "cast it to a decimal or a string first."
            )
        return array.cast(pa.int64())
    if pa.types.is_float16(kind):
        return array.cast(pa.float32())
    if pa.types.is_date64(kind):
        return array.cast(pa.date32())
    if pa.types.is_timestamp(kind) and kind.unit == "ns":
        try:
            return array.cast(pa.timestamp("us", kind.tz))  # safe cast: fails if sub-microsecond digits exist
        except pa.ArrowInvalid:
            raise UnsupportedTypeError(
                f"Column {name!r} holds timestamps with nanoseconds, which would be lost: round them to "
                "microseconds first (e.g. pandas .dt.floor('us'))."
            ) from None
    if pa.types.is_time64(kind) and kind.unit == "ns":
        try:
            return array.cast(pa.time64("us"))
        except pa.ArrowInvalid:
            raise UnsupportedTypeError(
                f"Column {name!r} holds times with nanoseconds, which would be lost: round them to microseconds first."
            ) from None
    if pa.types.is_duration(kind) or pa.types.is_interval(kind):
        raise UnsupportedTypeError(
            f"Column {name!r} has type {kind}: Celonis has no duration type; push it "
            "as a number of seconds (an integer or float column) instead."
        )
    if (
        pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_fixed_size_binary(kind)
        or pa.types.is_binary_view(kind)
    ):
        raise UnsupportedTypeError(
            f"Column {name!r} has the binary type {kind}: Celonis has no binary type; "
            "encode it as a string (hex or base64) first."
        )
    if pa.types.is_nested(kind) or pa.types.is_union(kind):
        raise UnsupportedTypeError(
            f"Column {name!r} has the nested type {kind}: the Data Push API takes flat tables only. Send it with "
            "CelonisIngestDataOperator (Standard Data Ingestion takes nested data), or flatten it into columns or "
            "serialize it to a JSON string first. Nothing was sent."
        )
    if pa.types.is_decimal(kind) and kind.precision > 38:
        raise UnsupportedTypeError(
            f"Column {name!r} is {kind}: more than 38 digits do not fit a Celonis "
            "number; cast it to a string to keep every digit."
        )
    return array


def normalize_batch(batch: pa.RecordBatch | pa.Table, nested: bool = False) -> pa.RecordBatch | pa.Table:
    """The batch with every column in a type Celonis takes, values unchanged; raises for the rest.

    ``nested``: struct, list and map columns pass as they are (Standard Data Ingestion); else they fail.
    """
    if len(set(batch.schema.names)) != len(batch.schema.names):
        duplicates = sorted({n for n in batch.schema.names if batch.schema.names.count(n) > 1})
        raise CelonisError(f"Column names must be unique; duplicated: {', '.join(duplicates)}.")
    blank = [i for i, n in enumerate(batch.schema.names) if not str(n).strip()]
    if blank:
        raise CelonisError(f"Column {blank[0] + 1} has no name: give every column a name.")
    arrays = [_normalize_array(field.name, batch.column(i), nested) for i, field in enumerate(batch.schema)]
    fields = [pa.field(f.name, a.type, nullable=True) for f, a in zip(batch.schema, arrays, strict=True)]
    schema = pa.schema(fields)
    if isinstance(batch, pa.Table):
        return pa.Table.from_arrays(arrays, schema=schema)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def max_string_bytes(batch: pa.RecordBatch | pa.Table) -> dict[str, int]:
    """For each string column, the longest value in UTF-8 bytes (0 when all are null or empty)."""
    lengths = {}
    for i, field in enumerate(batch.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            longest = pc.max(pc.binary_length(batch.column(i))).as_py()
            lengths[field.name] = int(longest or 0)
    return lengths


# Arrow types that map to a Celonis column type with no length or scale.
_PLAIN_TYPES = (
    (pa.types.is_boolean, "BOOLEAN"),
    (pa.types.is_integer, "INTEGER"),
    (pa.types.is_floating, "FLOAT"),
    (pa.types.is_date, "DATE"),
    (pa.types.is_time, "TIME"),
    (pa.types.is_timestamp, "DATETIME"),
)


def celonis_column(field: pa.Field, string_bytes: int | None = None) -> dict[str, Any]:
    """The ``tableSchema`` column for one normalized Arrow field."""
    kind = field.type
    column: dict[str, Any] = {"columnName": field.name}
    plain = next((name for test, name in _PLAIN_TYPES if test(kind)), None)
    if plain is not None:
        column["columnType"] = plain
    elif pa.types.is_decimal(kind):
        # Celonis has no DECIMAL column type; FLOAT with the scale as ``decimals`` is what its clients send
        # [guess]. The chunk keeps the exact decimal values.
        column.update(columnType="FLOAT", decimals=kind.scale, fieldLength=kind.precision)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
        length = max(MIN_VARCHAR_BYTES, string_bytes or 0)
        if length > MAX_VARCHAR_BYTES:
            raise UnsupportedTypeError(
                f"Column {field.name!r} holds a value of {length} bytes; Celonis strings hold at most "
                f"{MAX_VARCHAR_BYTES}, so it would be cut. Shorten or split the column first."
            )
        column.update(columnType="STRING", fieldLength=length)
    else:  # normalize_batch lets nothing else through
        raise UnsupportedTypeError(f"Column {field.name!r} has type {kind}, which Celonis cannot take.")
    return column


class SchemaTracker:
    """Follows the batches of one push: the common Arrow schema and the longest string per column."""

    def __init__(self) -> None:
        self.schema: pa.Schema | None = None
        self.string_bytes: dict[str, int] = {}

    def add(self, schema: pa.Schema, string_bytes: Mapping[str, int]) -> None:
        """Take in one batch's (normalized) schema and string lengths."""
        if self.schema is None:
            self.schema = schema
        elif schema != self.schema:
            self.schema = unify(self.schema, schema)
        self.add_lengths(string_bytes)

    def add_lengths(self, string_bytes: Mapping[str, int]) -> None:
        """Take in string lengths measured apart from a batch (a file's declared columns, read while it uploads)."""
        for name, length in string_bytes.items():
            self.string_bytes[name] = max(length, self.string_bytes.get(name, 0))

    def table_schema(
        self,
        table_name: str,
        keys: list[str] | None = None,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        open_ended: bool = False,
    ) -> dict[str, Any]:
        """The push job's ``tableSchema``: derived columns, with the user's per-column overrides applied.

        ``open_ended``: more data may follow (the schema is fixed before the source ended), so string
        columns are declared at ``MAX_VARCHAR_BYTES``: a later, longer value is never cut.
        """
        if self.schema is None:
            raise CelonisError("The source has no columns: there is nothing to push.")
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(self.schema.names))
        if unknown:
            raise CelonisError(
                f"table_schema names column(s) the data does not have: {', '.join(unknown)}; "
                f"the columns are: {', '.join(self.schema.names)}."
            )
        columns = []
        for field in self.schema:
            column = celonis_column(field, MAX_VARCHAR_BYTES if open_ended else self.string_bytes.get(field.name))
            column.update(overrides.get(field.name, {}))
            column_type = str(column.get("columnType")).upper()
            if column_type not in CELONIS_COLUMN_TYPES:
                raise CelonisError(
                    f"table_schema gives column {field.name!r} the type {column_type!r}; use one "
                    f"of {', '.join(CELONIS_COLUMN_TYPES)}."
                )
            needed = self.string_bytes.get(field.name, 0)
            if column_type == "STRING" and int(column.get("fieldLength") or 0) < needed:
                raise CelonisError(
                    f"table_schema gives column {field.name!r} fieldLength {column.get('fieldLength')}, but the data "
                    f"holds a value of {needed} bytes that Celonis would cut; set at least {needed}."
                )
            if keys and field.name in keys:
                column["pkField"] = True
            columns.append(column)
        return {"tableName": table_name, "columns": columns}


def final_schema(schema: pa.Schema) -> pa.Schema:
    """The schema every chunk is written in: a column that was null in every batch becomes a string column."""
    return pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in schema])


def unify(first: pa.Schema, second: pa.Schema) -> pa.Schema:
    """One schema for two batches of the same source (null columns take the other's type, numbers widen)."""
    if first.names != second.names:
        raise CelonisError(
            f"The source's columns changed between batches: {first.names} then {second.names}. "
            "Every file and batch of one push must have the same columns in the same order."
        )
    try:
        return pa.unify_schemas([first, second], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise CelonisError(
            f"The source's column types changed between batches and cannot be combined "
            f"without loss: {exc}. Give every file the same types, or cast in the query."
        ) from None
