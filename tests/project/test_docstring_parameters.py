"""Every keyword parameter of a public class is documented exactly once, by the class that defines it.

The API reference (mkdocstrings, warnings on) shows a class's docstring with its own ``__init__``: a
parameter passed on through ``**kwargs`` is documented where it is defined and referenced elsewhere.
"""

from __future__ import annotations

import inspect
import re

import pytest

from airflow_provider_celonis.hooks.celonis import CelonisHook
from airflow_provider_celonis.operators.data_job import CelonisRunDataJobOperator
from airflow_provider_celonis.operators.data_model import CelonisReloadDataModelOperator
from airflow_provider_celonis.operators.ingest import CelonisIngestDataOperator, CelonisIngestFilesOperator
from airflow_provider_celonis.operators.push import CelonisPushDataOperator
from airflow_provider_celonis.sensors.celonis import CelonisDataJobSensor, CelonisDataModelLoadSensor

pytestmark = pytest.mark.once  # independent of the Airflow version (see conftest)

CLASSES = [
    CelonisHook,
    CelonisReloadDataModelOperator,
    CelonisRunDataJobOperator,
    CelonisPushDataOperator,
    CelonisIngestDataOperator,
    CelonisIngestFilesOperator,
    CelonisDataModelLoadSensor,
    CelonisDataJobSensor,
]
PARAM = re.compile(r"^\s*:param (\w+):", re.M)


def own_parameters(klass: type) -> list[str]:
    """The parameters ``klass.__init__`` itself declares (not those it passes on through ``**kwargs``)."""
    if "__init__" not in vars(klass):
        return []
    return [
        name
        for name, p in inspect.signature(klass.__init__).parameters.items()
        if name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_each_parameter_is_documented_once_where_it_is_defined(cls):
    ours = [k for k in cls.__mro__ if k.__module__.startswith("airflow_provider_celonis")]
    problems = []
    for klass in ours:
        documented = PARAM.findall(inspect.getdoc(klass) or "")
        own = own_parameters(klass)
        problems += [f"{klass.__name__}.{n}: not documented" for n in own if n not in documented]
        problems += [f"{klass.__name__}.{n}: documented, not its parameter" for n in documented if n not in own]
        problems += [f"{klass.__name__}.{n}: documented twice" for n in set(documented) if documented.count(n) > 1]
    assert problems == []
