"""The test suite; its folders mirror ``airflow_provider_celonis/``.

- ``hooks/``, ``operators/``, ``sensors/``, ``triggers/``, ``push/``, ``emulator/``, ``conformance/``: one folder
  per source package; a top-level module's tests sit here, named after it (``test_waiting.py``, ``test_retry.py``);
- suites that cut across the tree: ``faults/`` (fault injection), ``e2e/`` (browser, distributed deployment),
  ``dags/`` (example DAGs and secrets through ``airflow dags test``), ``project/`` (packaging, docs site,
  getting started, benchmark smoke);
- ``helpers/``: what several test modules share (no test module imports another); ``conftest.py``: fixtures.
"""
