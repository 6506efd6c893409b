"""The Arrow memory pool a push reads and writes with: jemalloc where pyarrow has it, unless the user chose one.

pyarrow's default pool is mimalloc. In a fresh process (every Airflow task is one) its first large buffers
are slow to get: measured 2026-12-07, reading the string columns of a 1M-row parquet file took 0.08–0.22 s
the first time with mimalloc and 0.07–0.08 s with jemalloc (0.05–0.06 s warm), and the 1M-row parquet push
went from 0.44 s to 0.36 s (``benchmarks/push.py`` cases run with either pool, medians of 5). The pool is
the process's default only while a push runs (Airflow runs one task per process) and is put back after;
``ARROW_DEFAULT_MEMORY_POOL`` set in the environment is respected.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa

POOL_ENVIRONMENT_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"


@contextmanager
def push_memory_pool() -> Iterator[pa.MemoryPool]:
    """Make jemalloc pyarrow's default pool for the block (if built in and not chosen otherwise); yield the pool."""
    previous = pa.default_memory_pool()
    if os.environ.get(POOL_ENVIRONMENT_VARIABLE):
        yield previous
        return
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc (Windows wheels)
        yield previous
        return
    pa.set_memory_pool(pool)
    try:
        yield pool
    finally:
        pa.set_memory_pool(previous)
