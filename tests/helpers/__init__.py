"""Helpers shared by the test modules, one module per theme; fixtures live in ``tests/conftest.py``.

- ``emulator``: the demo seed's ids, ``test_seed`` and the ``Emulator`` admin client;
- ``tasks``: running operators, sensors, triggers and DAGs outside a scheduler (``context``, ``run_trigger``);
- ``push``: push/ingest tasks, the tables they send and the checks of what landed;
- ``postgres``: the ``every_type`` table the SQL source tests read from PostgreSQL;
- ``servers``: real servers (PostgreSQL) for tests and benchmarks; ``packaging``: building the dists.

No test module imports another test module: what two of them share belongs here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository root."""
AIRFLOW = os.path.join(os.path.dirname(sys.executable), "airflow")
"""The ``airflow`` command of the Python running the tests."""
