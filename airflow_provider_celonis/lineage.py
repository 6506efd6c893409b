"""OpenLineage datasets for the operators (used only when the OpenLineage provider is installed).

Celonis datasets live in the namespace ``celonis://<team host>``; a data pool table is named
``<pool id>.<table>``, a data model ``<pool id>.data_models.<data model id>``, a table fed by Standard Data
Ingestion ``connections.<connection id>.<table>``. Files are ``file`` datasets named by absolute path;
SQL sources are the tables the query reads, in the namespace of their Airflow connection.
The names are built in ``assets`` (``CelonisTarget``), which also gives each the ``celonis://`` asset URI.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_celonis.assets import CelonisTarget


def celonis_dataset(base_url: str, name: str) -> Any:
    """A dataset in the team's Celonis namespace (``name`` as ``assets.CelonisTarget.openlineage_name``)."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    from airflow_provider_celonis.assets import SCHEME, team_host

    return Dataset(namespace=f"{SCHEME}://{team_host(base_url)}", name=name)


def dataset_of(target: CelonisTarget) -> Any:
    """The OpenLineage dataset of a Celonis target (the same namespace and name as its asset URI)."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    return Dataset(namespace=target.openlineage_namespace, name=target.openlineage_name)


def file_datasets(patterns: str | Sequence[str]) -> list[Any]:
    """The files a path or glob (or list of them) names, as ``file`` datasets; the patterns if none exists."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    from airflow_provider_celonis.exceptions import CelonisError
    from airflow_provider_celonis.push.sources import expand_paths

    try:
        paths = expand_paths(patterns)
    except CelonisError:  # the files are gone after the task: name what was asked for
        paths = [patterns] if isinstance(patterns, str) else list(patterns)
    return [Dataset(namespace="file", name=os.path.abspath(path)) for path in paths]


def sql_datasets(conn_id: str, sql: str) -> list[Any]:
    """The tables a query reads, in the namespace of its Airflow connection (``<conn type>://<host>[:port]``)."""
    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.common.compat.sdk import BaseHook
    from airflow.providers.openlineage.sqlparser import SQLParser

    connection = BaseHook.get_connection(conn_id)
    authority = f"{connection.host or ''}{f':{connection.port}' if connection.port else ''}"
    namespace = f"{connection.conn_type}://{authority}"
    meta = SQLParser(dialect="generic").parse(sql)
    tables = meta.in_tables if meta else []
    return [Dataset(namespace=namespace, name=table.qualified_name) for table in tables]


def operator_lineage(inputs: list[Any], outputs: list[Any]) -> Any:
    """The ``OperatorLineage`` the OpenLineage listener reads."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(inputs=inputs, outputs=outputs)
