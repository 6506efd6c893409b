"""Names to ids: find a pool, data model, data job or job task by the name users see in the Celonis UI.

Each resolver takes exactly one of an id or a name. An id is returned as it is, without a request; a
name costs one listing call. A name matches exactly first, then case-insensitively; a name that matches
nothing fails naming the near matches and what exists, a name that matches several fails naming their
ids. Both raise ``CelonisNameNotFoundError`` (bad arguments raise ``ValueError`` before any request).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_celonis.exceptions import CelonisNameNotFoundError, CelonisParameterError
from airflow_provider_celonis.models import (
    DataJobMode,
    DataJobSelection,
    DataModelExecution,
    DataModelLoadSelection,
    ExtractionSelection,
    JobTask,
    TaskType,
)

if TYPE_CHECKING:
    from airflow_provider_celonis.hooks.celonis import CelonisHook

# How many existing names an error lists before it says "… and N more".
MAX_LISTED_NAMES = 20
MAX_NEAR_MATCHES = 5


def one_of(id_arg: str, id_value: Any, name_arg: str, name_value: Any) -> tuple[str, bool]:
    """The given value and whether it is an id; a ValueError unless exactly one non-blank value is given."""
    if id_value is not None and name_value is not None:
        raise CelonisParameterError(
            f"Give {id_arg} or {name_arg}, not both ({id_arg}={id_value!r}, {name_arg}={name_value!r})."
        )
    if id_value is None and name_value is None:
        raise CelonisParameterError(
            f"Give {id_arg} (from the Celonis UI URL) or {name_arg} (as shown in the Celonis UI)."
        )
    arg, value = (id_arg, id_value) if id_value is not None else (name_arg, name_value)
    if not isinstance(value, str) or not value.strip():
        raise CelonisParameterError(f"{arg} is empty or not text ({value!r}): give the {arg.replace('_', ' ')} to use.")
    return value.strip(), id_value is not None


def _listing(names: Sequence[str]) -> str:
    shown = sorted(set(names), key=str.casefold)
    text = ", ".join(repr(n) for n in shown[:MAX_LISTED_NAMES])
    if len(shown) > MAX_LISTED_NAMES:
        text += f" … and {len(shown) - MAX_LISTED_NAMES} more"
    return text or "(none)"


def match_name(kind: str, where: str, items: Sequence[tuple[str, str | None]], name: str, id_hint: str) -> str:
    """The id of the one item named ``name`` among ``(id, name)`` pairs; else ``CelonisNameNotFoundError``.

    ``kind`` ("data job") and ``where`` ("in pool X") word the error; ``id_hint`` says where an id can
    be given instead, for an ambiguous name.
    """
    named = [(item_id, item_name) for item_id, item_name in items if item_name]
    for same in (lambda n: n == name, lambda n: n.casefold() == name.casefold()):
        ids = [item_id for item_id, item_name in named if same(item_name)]
        if len(ids) == 1:
            return ids[0]
        if len(ids) > 1:
            raise CelonisNameNotFoundError(
                f"The {kind} name {name!r} {where} is ambiguous: {len(ids)} {kind}s have it, with the ids "
                f"{', '.join(ids)}. {id_hint}"
            )
    names = [item_name for _, item_name in named]
    by_folded: dict[str, str] = {}
    for item_name in names:
        by_folded.setdefault(item_name.casefold(), item_name)
    folded = name.casefold()
    near = difflib.get_close_matches(folded, list(by_folded), n=MAX_NEAR_MATCHES, cutoff=0.6)
    near += [n for n in by_folded if folded in n and n not in near]  # a part of the name: "Sales" for "Sales EU"
    near = near[:MAX_NEAR_MATCHES]
    hint = f" Did you mean {', '.join(repr(by_folded[n]) for n in near)}?" if near else ""
    raise CelonisNameNotFoundError(f"No {kind} is named {name!r} {where}.{hint} The {kind}s there: {_listing(names)}.")


def resolve_pool_id(hook: CelonisHook, pool_id: str | None = None, pool_name: str | None = None) -> str:
    """The id of a data pool given its id (no request) or its name (one ``GET /integration/api/pools``)."""
    value, is_id = one_of("pool_id", pool_id, "pool_name", pool_name)
    if is_id:
        return value
    pools = hook.list_data_pools()
    return match_name(
        "data pool",
        "visible to this connection",
        [(p.id, p.name) for p in pools],
        value,
        "Pass pool_id= with the one you mean.",
    )


def resolve_data_model_id(
    hook: CelonisHook, pool_id: str, data_model_id: str | None = None, data_model_name: str | None = None
) -> str:
    """The id of a data model given its id (no request) or its name (one listing of the pool's data models)."""
    value, is_id = one_of("data_model_id", data_model_id, "data_model_name", data_model_name)
    if is_id:
        return value
    models = hook.list_data_models(pool_id)
    return match_name(
        "data model",
        f"in pool {pool_id}",
        [(m.id, m.name) for m in models],
        value,
        "Pass data_model_id= with the one you mean.",
    )


def resolve_data_job_id(
    hook: CelonisHook, pool_id: str, data_job_id: str | None = None, data_job_name: str | None = None
) -> str:
    """The id of a data job given its id (no request) or its name (one listing of the pool's data jobs)."""
    value, is_id = one_of("data_job_id", data_job_id, "data_job_name", data_job_name)
    if is_id:
        return value
    jobs = hook.list_data_jobs(pool_id)
    return match_name(
        "data job",
        f"in pool {pool_id}",
        [(j.id, j.name) for j in jobs],
        value,
        "Pass data_job_id= with the one you mean.",
    )


def _id_or_name(kind: str, where: str, items: Sequence[tuple[str, str | None]], value: Any, label: str) -> str:
    """An item's id from its id or its name (an exact id wins)."""
    if not isinstance(value, str) or not value.strip():
        raise CelonisParameterError(f"{label} has an empty or non-text entry {value!r}: name a {kind} or give its id.")
    text = value.strip()
    if any(item_id == text for item_id, _ in items):
        return text
    return match_name(kind, where, items, text, f"Give the {kind} by its id in {label} instead.")


def _as_list(label: str, value: Any) -> list[Any]:
    if isinstance(value, str | dict) or not isinstance(value, list | tuple):
        raise CelonisParameterError(f"{label} must be a list (or None for all of them), not {value!r}.")
    return list(value)


def _split(label: str, entry: Any, key: str) -> tuple[Any, Any]:
    """``(what, tables)`` from ``"name"`` or ``{key: "name", "tables": [...]}``."""
    if isinstance(entry, dict):
        unknown = set(entry) - {key, "tables"}
        if unknown or key not in entry:
            raise CelonisParameterError(
                f"An entry of {label} must look like {{{key!r}: name or id, 'tables': [...]}}, not {entry!r}."
            )
        return entry[key], entry.get("tables")
    return entry, None


def resolve_job_selection(
    hook: CelonisHook,
    pool_id: str,
    job_id: str,
    *,
    mode: str | DataJobMode = DataJobMode.DELTA,
    extractions: Sequence[Any] | None = None,
    transformations: Sequence[str] | None = None,
    data_models: Sequence[Any] | None = None,
) -> DataJobSelection:
    """A ``DataJobSelection`` from the names (or ids) users see in the data job.

    ``extractions``: names/ids of extraction tasks, or ``{"extraction": name, "tables": [table names]}``.
    ``transformations``: names/ids of transformation tasks. ``data_models``: names/ids of the data
    models (or data model load ids) loaded by the job, or ``{"data_model": name, "tables": [names]}``;
    without ``tables`` every table that load reloads. ``None`` runs all of a kind, ``[]`` none.
    Costs one ``tasks/`` call when extractions or transformations are named, one ``loads`` call for data models.
    """
    mode = DataJobMode.parse(mode)
    where = f"in data job {job_id}"
    chosen_extractions: list[ExtractionSelection] | None = None
    chosen_transformations: list[str] | None = None
    chosen_loads: list[DataModelLoadSelection] | None = None
    extraction_entries = (
        None
        if extractions is None
        else [_split("extractions", e, "extraction") for e in _as_list("extractions", extractions)]
    )
    transformation_entries = None if transformations is None else _as_list("transformations", transformations)
    load_entries = (
        None
        if data_models is None
        else [_split("data_models", d, "data_model") for d in _as_list("data_models", data_models)]
    )
    if extraction_entries or transformation_entries:
        tasks = hook.list_data_job_tasks(pool_id, job_id)
        if extraction_entries is not None:
            pairs = _task_pairs(tasks, TaskType.EXTRACTION)
            chosen_extractions = [
                ExtractionSelection(
                    _id_or_name("extraction", where, pairs, what, "extractions"),
                    None if tables is None else _as_list("tables of an extraction", tables),
                )
                for what, tables in extraction_entries
            ]
        if transformation_entries is not None:
            pairs = _task_pairs(tasks, TaskType.TRANSFORMATION)
            chosen_transformations = [
                _id_or_name("transformation", where, pairs, what, "transformations") for what in transformation_entries
            ]
    if extraction_entries == []:
        chosen_extractions = []
    if transformation_entries == []:
        chosen_transformations = []
    if load_entries is not None:
        chosen_loads = []
        if load_entries:
            loads = hook.list_data_job_loads(pool_id, job_id)
            for what, tables in load_entries:
                load = _pick_load(loads, what, where)
                chosen_loads.append(DataModelLoadSelection(load.id, _load_tables(load, tables, where)))
    return DataJobSelection(
        mode=mode, extractions=chosen_extractions, transformations=chosen_transformations, data_models=chosen_loads
    )


def _task_pairs(tasks: Sequence[JobTask], task_type: TaskType) -> list[tuple[str, str | None]]:
    return [(t.id, t.name) for t in tasks if t.task_type is task_type]


def _pick_load(loads: Sequence[DataModelExecution], what: Any, where: str) -> DataModelExecution:
    """A data model load of the job, by its id, its data model's id, or its data model's name."""
    if isinstance(what, str):
        for load in loads:
            if what.strip() in (load.id, load.data_model_id):
                return load
    pairs = [(load.id, load.data_model_name) for load in loads]
    load_id = _id_or_name("data model load", where, pairs, what, "data_models")
    return next(load for load in loads if load.id == load_id)


def _load_tables(load: DataModelExecution, tables: Any, where: str) -> list[str]:
    """Table ids of a data model load from names/ids; None = the tables the load reloads (all if none marked)."""
    if tables is None:
        selected = [t.id for t in load.tables if t.selected]
        return selected or [t.id for t in load.tables]
    pairs = [(t.id, t.alias_or_name) for t in load.tables]
    kind_where = f"{where}, data model {load.data_model_name or load.data_model_id}"
    return [_id_or_name("table", kind_where, pairs, name, "tables") for name in _as_list("tables", tables)]
