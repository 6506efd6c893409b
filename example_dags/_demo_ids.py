"""The ids of the emulator's demo seed; replace them with your own from the Celonis UI URLs."""

import os

POOL_ID = os.environ.get("CELONIS_POOL_ID", "8f2c4d1e-0000-4000-8000-000000000001")
DATA_MODEL_ID = os.environ.get("CELONIS_DATA_MODEL_ID", "8f2c4d1e-0000-4000-8000-0000000000d1")
FAILING_DATA_MODEL_ID = "8f2c4d1e-0000-4000-8000-0000000000d2"
DATA_JOB_ID = os.environ.get("CELONIS_DATA_JOB_ID", "8f2c4d1e-0000-4000-8000-0000000000a1")
FAILING_DATA_JOB_ID = "8f2c4d1e-0000-4000-8000-0000000000a2"
# Seconds between status reads; keep tens of seconds against a real team (the API budget is shared).
POLL_INTERVAL = float(os.environ.get("CELONIS_EXAMPLE_POLL_INTERVAL", "30"))
# The "Push data into Celonis" data connection of the demo pool (Standard Data Ingestion).
INGESTION_CONNECTION_ID = os.environ.get("CELONIS_INGESTION_CONNECTION_ID", "8f2c4d1e-0000-4000-8000-0000000000c1")
# Where the push examples write their files, and the SQLite database their SQL source reads
# (the demo defines the Airflow connection `celonis_example_db` pointing at it).
EXAMPLE_DATA_DIR = os.environ.get("CELONIS_EXAMPLE_DATA_DIR", "/tmp/celonis-example-data")
EXAMPLE_DB_CONN_ID = "celonis_example_db"
