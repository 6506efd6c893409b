"""The ids of the emulator's demo seed; replace them with your own from the Celonis UI URLs."""

import os

POOL_ID = os.environ.get("CELONIS_POOL_ID", "8f2c4d1e-0000-4000-8000-000000000001")
DATA_MODEL_ID = os.environ.get("CELONIS_DATA_MODEL_ID", "8f2c4d1e-0000-4000-8000-0000000000d1")
FAILING_DATA_MODEL_ID = "8f2c4d1e-0000-4000-8000-0000000000d2"
DATA_JOB_ID = os.environ.get("CELONIS_DATA_JOB_ID", "8f2c4d1e-0000-4000-8000-0000000000a1")
FAILING_DATA_JOB_ID = "8f2c4d1e-0000-4000-8000-0000000000a2"
# Seconds between status reads; keep tens of seconds against a real team (the API budget is shared).
POLL_INTERVAL = float(os.environ.get("CELONIS_EXAMPLE_POLL_INTERVAL", "30"))
