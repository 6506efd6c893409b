"""What the conformance command found: verdicts, raw answers, the printed lines and the redacted JSON report."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from airflow_provider_celonis.conformance.assumptions import ASSUMPTIONS

REDACTED = "[REDACTED]"
# Answer headers worth keeping in a bug report; every other header is left out.
KEPT_HEADERS = (
    "content-type",
    "content-length",
    "retry-after",
    "location",
    "x-celonis-support-id",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-amz-request-id",
)
_SECRET_KEY = re.compile(
    r"secret|password|authorization|credential|accesskey|apikey|appkey|token$|^token|signature", re.IGNORECASE
)
_KEPT_KEYS = {"tokentype", "expiresin"}
_MAX_BODY_CHARS = 20_000


class Verdict(StrEnum):
    """How Celonis's answer compares with one assumption."""

    AGREES = "agrees"
    DIFFERS = "differs"
    NOT_CHECKED = "not checked"


@dataclass
class Finding:
    """The verdict on one assumption and what Celonis answered, in a few words."""

    assumption: str
    verdict: Verdict
    answer: str


@dataclass
class Exchange:
    """One raw request and answer: what a bug report needs (never the request's credential)."""

    probe: str
    method: str
    path: str
    params: dict[str, Any] | None
    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    error: str | None = None


class Redactor:
    """Removes credentials from anything printed or written: by key name, and every known secret value."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._values: set[str] = set()
        for value in secrets:
            self.add(value)

    def add(self, value: str | None) -> None:
        """Treat ``value`` (a key, secret or token) as a secret from now on."""
        if value and len(str(value)) >= 4:
            self._values.add(str(value))

    def text(self, value: str) -> str:
        """``value`` with every known secret replaced."""
        for secret in sorted(self._values, key=len, reverse=True):
            value = value.replace(secret, REDACTED)
        return value

    def data(self, value: Any) -> Any:
        """A JSON-able value with secret-named keys and known secret values replaced."""
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                normalized = re.sub(r"[^a-z0-9]", "", str(key).lower())
                secret_key = normalized not in _KEPT_KEYS and bool(_SECRET_KEY.search(normalized))
                out[self.text(str(key))] = REDACTED if secret_key and item is not None else self.data(item)
            return out
        if isinstance(value, list | tuple):
            return [self.data(item) for item in value]
        if isinstance(value, str):
            return self.text(value)
        return value


def body_of(content: bytes, content_type: str | None) -> Any:
    """An answer body for the report: parsed JSON, else text (cut), else None for an empty body."""
    if not content:
        return None
    text = content.decode("utf-8", errors="replace")
    if "json" in (content_type or "") or text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text if len(text) <= _MAX_BODY_CHARS else text[:_MAX_BODY_CHARS] + "…"


def kept_headers(headers: Any) -> dict[str, str]:
    """The answer headers in ``KEPT_HEADERS``."""
    return {name: str(headers[name]) for name in KEPT_HEADERS if headers and name in headers}


def lines(findings: dict[str, Finding], redactor: Redactor) -> list[str]:
    """One line per assumption, in the table's order: verdict, id, text, and what Celonis answered."""
    out = []
    for assumption in ASSUMPTIONS:
        finding = findings.get(assumption.id) or Finding(assumption.id, Verdict.NOT_CHECKED, "not probed")
        out.append(
            redactor.text(
                f"{finding.verdict.value:<11}  {assumption.id}: {assumption.text} -> Celonis: {finding.answer}"
            )
        )
    return out


def summary(findings: dict[str, Finding]) -> str:
    """``N agree, M differ, K not checked``."""
    counts = {v: 0 for v in Verdict}
    for assumption in ASSUMPTIONS:
        finding = findings.get(assumption.id)
        counts[finding.verdict if finding else Verdict.NOT_CHECKED] += 1
    return (
        f"{counts[Verdict.AGREES]} agree, {counts[Verdict.DIFFERS]} differ, {counts[Verdict.NOT_CHECKED]} not checked"
    )


def report_json(
    findings: dict[str, Finding], exchanges: list[Exchange], meta: dict[str, Any], redactor: Redactor
) -> str:
    """The JSON report: run details, one entry per assumption, and every raw answer, all redacted."""
    document = {
        "meta": meta,
        "summary": summary(findings),
        "assumptions": [
            {
                "id": a.id,
                "text": a.text,
                **(
                    {"verdict": f.verdict.value, "answer": f.answer}
                    if (f := findings.get(a.id))
                    else {"verdict": Verdict.NOT_CHECKED.value, "answer": "not probed"}
                ),
            }
            for a in ASSUMPTIONS
        ],
        "exchanges": [asdict(exchange) for exchange in exchanges],
    }
    return redactor.text(json.dumps(redactor.data(document), indent=2, default=str, ensure_ascii=False))
