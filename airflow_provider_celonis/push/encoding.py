"""How parquet is written for each Celonis sink, and whether a given parquet file already fits a sink.

One setting per sink, in one place: Data Push chunks and Standard Data Ingestion files differ in
compression and timestamp encoding, and every writer and every pass-through check reads them from here.

- Data Push: snappy (Celonis's own client writes pandas' default) and INT96 timestamps, as every
  Celonis-written client for that endpoint does (pycelonis ``use_deprecated_int96_timestamps=True``);
  no source shows INT64 microseconds being read there, so they are an opt-in.
- Standard Data Ingestion: "Uncompressed parquet files only" [doc]; its timestamp encoding has no
  source [guess: INT64 microseconds, pyarrow's default, UTC-adjusted when zoned].
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pyarrow.parquet as pq

from airflow_provider_celonis.exceptions import CelonisError

TIMESTAMP_ENCODINGS = ("int96", "int64_us")


@dataclass(frozen=True)
class ParquetEncoding:
    """How one sink wants parquet: compression codec and timestamp encoding."""

    sink: str
    compression: str  # a pyarrow codec name; "none" = uncompressed
    timestamps: str  # "int96" or "int64_us", as written
    timestamps_required: bool = True  # False: a file's own timestamp encoding passes unchanged

    def writer_options(self) -> dict[str, Any]:
        """Keyword arguments for ``pyarrow.parquet.ParquetWriter``."""
        options: dict[str, Any] = {"compression": self.compression}
        if self.timestamps == "int96":
            options["use_deprecated_int96_timestamps"] = True
        else:
            options.update(coerce_timestamps="us", allow_truncated_timestamps=False)
        return options

    def with_timestamps(self, timestamps: str) -> ParquetEncoding:
        """The same sink with another timestamp encoding (validated)."""
        return replace(self, timestamps=parse_timestamps(timestamps))

    def mismatch(self, metadata: pq.FileMetaData) -> str | None:
        """Why a parquet file cannot go to this sink unchanged, or None when it can."""
        if self.compression == "none":
            for group in range(metadata.num_row_groups):
                row_group = metadata.row_group(group)
                for index in range(row_group.num_columns):
                    codec = row_group.column(index).compression
                    if codec != "UNCOMPRESSED":
                        return f"column {row_group.column(index).path_in_schema} is {codec}-compressed"
        if not self.timestamps_required:
            return None
        schema = metadata.schema
        for index in range(len(schema)):
            column = schema.column(index)
            is_int64_timestamp = column.physical_type == "INT64" and "Timestamp" in str(column.logical_type)
            if self.timestamps == "int96" and is_int64_timestamp:
                return f"column {column.path} holds INT64 timestamps, not INT96"
            if self.timestamps == "int64_us" and column.physical_type == "INT96":
                return f"column {column.path} holds INT96 timestamps, not INT64"
        return None


def parse_timestamps(value: Any) -> str:
    """A timestamp encoding name, or an error naming the choices."""
    if value not in TIMESTAMP_ENCODINGS:
        raise CelonisError(
            f"parquet_timestamps must be 'int96' (what Celonis's own client writes, the default) or "
            f"'int64_us', not {value!r}."
        )
    return value


DATA_PUSH_PARQUET = ParquetEncoding("Data Push", compression="snappy", timestamps="int96")
INGESTION_PARQUET = ParquetEncoding(
    "Standard Data Ingestion", compression="none", timestamps="int64_us", timestamps_required=False
)
