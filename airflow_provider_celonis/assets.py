"""Celonis assets: the ``celonis://`` URI scheme, its normaliser, and the asset events the operators emit.

One place builds the names of Celonis data, for Airflow assets and OpenLineage alike (``lineage`` uses
``CelonisTarget`` too). The URI of a thing mirrors its OpenLineage dataset (namespace ``celonis://<team
host>``, name = the path's parts joined by dots):

- a data pool table: ``celonis://<team host>/<pool id>/<table>``
- a process data model: ``celonis://<team host>/<pool id>/data_models/<data model id>``
- a table fed by Standard Data Ingestion: ``celonis://<team host>/connections/<connection id>/<table>``

The team host is only known at run time (it is the Celonis connection's host), and ids may be templated,
so the operators list an ``AssetAlias`` in ``outlets`` and attach the concrete asset and its event extra
when the task succeeds; an ``Asset`` the user listed in ``outlets`` with the same URI gets the extra directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, quote, unquote, urlsplit

from airflow_provider_celonis.exceptions import CelonisParameterError

if TYPE_CHECKING:
    from airflow.providers.common.compat.assets import Asset, AssetAlias

SCHEME = "celonis"
DATA_MODELS = "data_models"
CONNECTIONS = "connections"
# The alias the operators list in outlets (one per Celonis connection id; see ``outlet_alias``).
ALIAS_PREFIX = "celonis:"
# What an asset event's extra may carry (small, JSON-safe values only; never a secret).
EXTRA_KEYS = (
    "kind",
    "pool_id",
    "table_name",
    "data_model_id",
    "connection_id",
    "push_job_id",
    "push_type",
    "load_id",
    "rows",
    "chunks",
    "files",
    "bytes",
    "celonis_status",
)


def team_host(team: str) -> str:
    """The host (with port, if any) of a team URL or a bare host, lower-cased: ``myteam.eu-1.celonis.cloud``."""
    if not isinstance(team, str) or not team.strip():
        raise CelonisParameterError(
            f"A Celonis team URL or host is needed, not {team!r} (e.g. 'https://myteam.eu-1.celonis.cloud')."
        )
    text = team.strip()
    host = urlsplit(text if "://" in text else f"https://{text}").netloc.rpartition("@")[2]
    if not host:
        raise CelonisParameterError(
            f"Cannot read a host from {team!r}; give the team URL, e.g. 'https://myteam.eu-1.celonis.cloud'."
        )
    return host.lower()


@dataclass(frozen=True)
class CelonisTarget:
    """A thing in a Celonis team that data lands in: its asset URI and its OpenLineage dataset name."""

    host: str
    parts: tuple[str, ...]

    @property
    def uri(self) -> str:
        """``celonis://<host>/<part>/<part>…`` (each part percent-quoted)."""
        return f"{SCHEME}://{self.host}/" + "/".join(quote(p, safe="") for p in self.parts)

    @property
    def openlineage_namespace(self) -> str:
        """The OpenLineage namespace of the team: ``celonis://<host>``."""
        return f"{SCHEME}://{self.host}"

    @property
    def openlineage_name(self) -> str:
        """The OpenLineage dataset name: the parts joined by dots (``<pool id>.<table>`` …)."""
        return ".".join(self.parts)

    def asset(self, extra: Mapping[str, Any] | None = None) -> Asset:
        """The Airflow asset (a dataset on Airflow 2) of this target."""
        from airflow.providers.common.compat.assets import Asset

        return Asset(uri=self.uri, extra=dict(extra or {}))


def table_target(team: str, pool_id: str, table_name: str) -> CelonisTarget:
    """A data pool table."""
    return CelonisTarget(team_host(team), (_part("pool_id", pool_id), _part("table_name", table_name)))


def data_model_target(team: str, pool_id: str, data_model_id: str) -> CelonisTarget:
    """A process data model (its loads are its events)."""
    return CelonisTarget(
        team_host(team), (_part("pool_id", pool_id), DATA_MODELS, _part("data_model_id", data_model_id))
    )


def ingestion_table_target(team: str, connection_id: str, table_name: str) -> CelonisTarget:
    """A table fed by Standard Data Ingestion, under its data connection."""
    return CelonisTarget(
        team_host(team), (CONNECTIONS, _part("connection_id", connection_id), _part("table_name", table_name))
    )


def celonis_table_asset(team: str, pool_id: str, table_name: str) -> Asset:
    """The asset of a data pool table, e.g. to schedule a DAG on: ``schedule=[celonis_table_asset(...)]``."""
    return table_target(team, pool_id, table_name).asset()


def celonis_data_model_asset(team: str, pool_id: str, data_model_id: str) -> Asset:
    """The asset of a process data model (updated by each successful reload)."""
    return data_model_target(team, pool_id, data_model_id).asset()


def celonis_ingestion_table_asset(team: str, connection_id: str, table_name: str) -> Asset:
    """The asset of a table fed through a Standard Data Ingestion connection."""
    return ingestion_table_target(team, connection_id, table_name).asset()


def _part(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CelonisParameterError(f"{name} must be a non-empty string to name a Celonis asset, not {value!r}.")
    return value


# --- the URI scheme (provider info: asset-uris / dataset-uris) -------------------------------------


def parse_uri(uri: str) -> CelonisTarget:
    """The target a ``celonis://`` URI names; ``ValueError`` naming the expected shapes otherwise."""
    parsed = urlsplit(uri)
    if parsed.scheme != SCHEME:
        raise CelonisParameterError(f"Not a {SCHEME}:// URI: {uri!r}.")
    return _target_of(parsed)


def _target_of(parsed: SplitResult) -> CelonisTarget:
    shapes = (
        f"{SCHEME}://<team host>/<pool id>/<table>, {SCHEME}://<team host>/<pool id>/{DATA_MODELS}/<id> "
        f"or {SCHEME}://<team host>/{CONNECTIONS}/<connection id>/<table>"
    )
    uri = parsed.geturl()
    if not parsed.netloc:
        raise CelonisParameterError(f"A Celonis asset URI needs the team host: {uri!r}; use {shapes}.")
    parts = tuple(unquote(p) for p in parsed.path.strip("/").split("/")) if parsed.path.strip("/") else ()
    valid = len(parts) == 2 or (len(parts) == 3 and (parts[1] == DATA_MODELS or parts[0] == CONNECTIONS))
    if not valid or not all(parts):
        raise CelonisParameterError(f"Not a Celonis asset URI: {uri!r}; use {shapes}.")
    return CelonisTarget(parsed.netloc.rpartition("@")[2].lower(), parts)


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Airflow's normaliser for ``celonis://`` URIs: lower-case host, quoted parts, no query or fragment."""
    target = _target_of(uri)
    return urlsplit(target.uri)


def create_asset(
    *,
    team: str,
    pool_id: str | None = None,
    table_name: str | None = None,
    data_model_id: str | None = None,
    connection_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Asset:
    """Airflow's asset factory for the scheme (a table, a data model, or an ingestion table)."""
    if connection_id is not None:
        target = ingestion_table_target(team, connection_id, table_name or "")
    elif data_model_id is not None:
        target = data_model_target(team, pool_id or "", data_model_id)
    else:
        target = table_target(team, pool_id or "", table_name or "")
    return target.asset(extra)


def convert_asset_to_openlineage(asset: Any, lineage_context: Any = None) -> Any:
    """The OpenLineage dataset of a Celonis asset (the same one the operators report)."""
    from airflow_provider_celonis import lineage

    return lineage.dataset_of(parse_uri(asset.uri))


# --- what the operators emit ------------------------------------------------------------------------


def outlet_alias(celonis_conn_id: str) -> AssetAlias:
    """The alias a Celonis operator lists in ``outlets``: one per Celonis connection (templated ids: one alias)."""
    from airflow.providers.common.compat.assets import AssetAlias

    conn = celonis_conn_id if isinstance(celonis_conn_id, str) and "{{" not in celonis_conn_id else "templated"
    return AssetAlias(name=f"{ALIAS_PREFIX}{conn}")


def _aliases_work() -> bool:
    """Whether events can go through an alias (Airflow 3 only).

    Airflow 2.11's ``dags test`` fails flushing an event attached through a ``DatasetAlias`` ("None value
    found in collection DatasetModel.aliases").
    """
    import airflow

    return int(airflow.__version__.split(".")[0]) >= 3


def add_outlet(operator: Any, emit_asset: bool) -> None:
    """Add the operator's alias to its outlets (called in ``__init__``) unless ``emit_asset`` is False.

    On Airflow 2.11 no alias is added: the event extra goes only to a ``Dataset`` the user lists in outlets.
    """
    if not isinstance(emit_asset, bool):
        raise CelonisParameterError(f"emit_asset must be True or False, not {emit_asset!r}.")
    operator.emit_asset = emit_asset
    if emit_asset and _aliases_work():
        alias = outlet_alias(operator.celonis_conn_id)
        outlets = list(operator.outlets or [])
        if not any(getattr(o, "name", None) == alias.name and type(o) is type(alias) for o in outlets):
            operator.outlets = [*outlets, alias]


def event_extra(kind: str, result: Mapping[str, Any]) -> dict[str, Any]:
    """The asset event's extra from a task's result: counts, the job or load id, Celonis's status."""
    extra: dict[str, Any] = {"kind": kind}
    load = result.get("load") if isinstance(result.get("load"), Mapping) else {}
    values = {
        **result,
        "load_id": result.get("load_id") or load.get("load_id"),
        "celonis_status": result.get("celonis_status", result.get("status")),
        "files": len(result["files"]) if isinstance(result.get("files"), list) else result.get("files"),
    }
    for key in EXTRA_KEYS[1:]:
        value = values.get(key)
        if isinstance(value, str | int | float):  # bool is an int; None, lists and dicts stay out
            extra[key] = value
    return extra


def emit_asset_event(
    operator: Any, context: Any, target: CelonisTarget, kind: str, result: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Attach this task's asset event (the concrete asset, with ``event_extra``) on success; returns the extra.

    An ``Asset`` with the same URI in the task's outlets gets the extra directly; otherwise the event goes
    through the operator's alias (Airflow creates the asset on its first event).
    """
    if not getattr(operator, "emit_asset", False):
        return None
    extra = event_extra(kind, result)
    events = context.get("outlet_events") if hasattr(context, "get") else None
    if events is None:  # not run by Airflow (a unit test calling execute): nothing to attach to
        return extra
    listed = next(
        (
            o
            for o in operator.outlets or []
            if getattr(o, "uri", None) == target.uri and type(o).__name__ in ("Asset", "Dataset")
        ),
        None,
    )
    if listed is not None:
        events[listed].extra.update(extra)
    elif _aliases_work():
        events[outlet_alias(operator.celonis_conn_id)].add(target.asset(), extra=extra)
    else:
        operator.log.info("No Dataset %s in the outlets: on Airflow 2.11 list it to get the event.", target.uri)
        return extra
    operator.log.info("Asset event for %s: %s", target.uri, extra)
    return extra
