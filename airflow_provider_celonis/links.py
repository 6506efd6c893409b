"""Extra links from a task instance into the Celonis UI (the URL is pushed to XCom before waiting)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import TaskInstanceKey

XCOM_DATA_POOL_URL = "celonis_data_pool_url"
XCOM_DATA_MODEL_URL = "celonis_data_model_url"
XCOM_DATA_JOB_URL = "celonis_data_job_url"


class _XComUrlLink(BaseOperatorLink):
    xcom_url_key: str = ""

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        """The URL the task pushed, or an empty string before it ran."""
        return XCom.get_value(key=self.xcom_url_key, ti_key=ti_key) or ""


class CelonisDataPoolLink(_XComUrlLink):
    """The data pool page in Celonis."""

    name = "Celonis data pool"
    xcom_url_key = XCOM_DATA_POOL_URL


class CelonisDataModelLink(_XComUrlLink):
    """The process data model page in Celonis."""

    name = "Celonis data model"
    xcom_url_key = XCOM_DATA_MODEL_URL


class CelonisDataJobLink(_XComUrlLink):
    """The data job page in Celonis."""

    name = "Celonis data job"
    xcom_url_key = XCOM_DATA_JOB_URL
