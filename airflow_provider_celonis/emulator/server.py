"""The emulator's HTTP server: Celonis REST paths, the S3-compatible ingestion endpoint, and ``/_emulator/``.

Standard library only (``http.server``), threaded, HTTP/1.1 keep-alive. Routes are a table of
(method, path pattern, handler); every request is logged without its credential.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from airflow_provider_celonis.emulator import catalog, s3, tables
from airflow_provider_celonis.emulator.seed import validate_seed
from airflow_provider_celonis.emulator.state import DATA_POOL_SCOPES, PUSH_SCOPES, ApiError, EmulatorState

log = logging.getLogger(__name__)

_ID = r"(?P<{}>[^/]+)"
INGESTION_PREFIX = "/api/data-ingestion"


def _pattern(template: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\}", lambda m: _ID.format(m.group(1)), template)
    return re.compile(f"^{regex}$")


class Request:
    """What a route handler gets: parsed path parameters, query, body and the caller."""

    def __init__(self, handler: CelonisRequestHandler, params: dict[str, str], body: bytes) -> None:
        self.handler = handler
        self.params = {k: unquote(v) for k, v in params.items()}
        self.query = {k: v[-1] for k, v in parse_qs(urlsplit(handler.path).query, keep_blank_values=True).items()}
        self.body = body
        self.path = urlsplit(handler.path).path

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            raise ApiError(400, "Bad Request", "The body is not valid JSON.") from None


Response = tuple[int, Any] | tuple[int, Any, dict[str, str]]
Handler = Callable[[EmulatorState, Request], Response]


class Router:
    """Routes ``(method, path)`` to handlers; a path match with the wrong method is 405."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler, set[str] | None]] = []

    def add(
        self, method: str, template: str, scopes: set[str] | None = DATA_POOL_SCOPES
    ) -> Callable[[Handler], Handler]:
        def register(func: Handler) -> Handler:
            self.routes.append((method, _pattern(template), func, scopes))
            return func

        return register

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str], set[str] | None]:
        allowed = False
        for route_method, pattern, func, scopes in self.routes:
            found = pattern.match(path)
            if found:
                if route_method == method:
                    return func, found.groupdict(), scopes
                allowed = True
        if allowed:
            raise ApiError(405, "Method Not Allowed", f"{method} is not allowed on {path}.")
        raise ApiError(404, "Not Found", f"No endpoint at {path}.")


api = Router()
admin = Router()
PUSH_PREFIXES = ("/data-ingestion/api/v1/data-push", "/integration/api/v1/data-push")


# --- Celonis REST endpoints -------------------------------------------------------------------


@api.add("GET", "/integration/api/pools")
def list_pools(state: EmulatorState, req: Request) -> Response:
    return 200, [{"id": p["id"], "name": p.get("name")} for p in state.pools.values()]


@api.add("GET", "/api/cloud/team", scopes=None)
def cloud_team(state: EmulatorState, req: Request) -> Response:
    return 200, {"domain": "emulator", "name": "Celonis emulator"}


@api.add("GET", "/integration/api/v1/data-pools/{pool}/data-models/{dm}/tables")
def data_model_tables(state: EmulatorState, req: Request) -> Response:
    model = state.data_model(req.params["pool"], req.params["dm"])
    return 200, [
        {
            "id": t["id"],
            "dataModelId": model["id"],
            "dataSourceId": t.get("dataSourceId"),
            "name": t["name"],
            "alias": t.get("alias"),
            "aliasOrName": t.get("alias") or t["name"],
        }
        for t in model.get("tables", [])
    ]


@api.add("POST", "/integration/api/v1/data-pools/{pool}/data-models/{dm}/load")
def data_model_load(state: EmulatorState, req: Request) -> Response:
    state.start_load(req.params["pool"], req.params["dm"], None, req.path, catalog.full_reload_param(req.query))
    return 200, None


@api.add("POST", "/integration/api/v1/data-pools/{pool}/data-models/{dm}/load/partial-sync")
def data_model_partial_load(state: EmulatorState, req: Request) -> Response:
    body = req.json()
    if not isinstance(body, list) or not all(isinstance(t, str) for t in body):
        raise ApiError(400, "Bad Request", "The body must be a JSON list of table ids.", "INVALID_BODY")
    state.start_load(req.params["pool"], req.params["dm"], body, req.path, catalog.full_reload_param(req.query))
    return 200, None


@api.add("GET", "/integration/api/v1/data-pools/{pool}/data-models/{dm}/last-load")
def data_model_last_load(state: EmulatorState, req: Request) -> Response:
    last = state.last_load(req.params["pool"], req.params["dm"])
    return (204, None) if last is None else (200, last)


@api.add("POST", "/integration/api/pools/{pool}/data-models/{dm}/cancel-load")
def data_model_cancel(state: EmulatorState, req: Request) -> Response:
    state.cancel_load(req.params["pool"], req.params["dm"])
    return 200, None


@api.add("POST", "/integration/api/v2/data-pools/{pool}/data-jobs/{job}/execute")
def data_job_execute(state: EmulatorState, req: Request) -> Response:
    state.execute_job(req.params["pool"], req.params["job"], req.query.get("mode"), req.path)
    return 200, None


@api.add("GET", "/integration/api/pools/{pool}/jobs/{job}")
def data_job_status(state: EmulatorState, req: Request) -> Response:
    return 200, state.job_status(req.params["pool"], req.params["job"])


@api.add("POST", "/integration/api/pools/{pool}/jobs/{job}/cancel")
def data_job_cancel(state: EmulatorState, req: Request) -> Response:
    state.cancel_job(req.params["pool"], req.params["job"])
    return 200, None


@api.add("GET", "/integration/api/pools/{pool}/logs/{job}/executions")
def data_job_executions(state: EmulatorState, req: Request) -> Response:
    return 200, state.job_executions(
        req.params["pool"], req.params["job"], _int(req, "limit", 10), _int(req, "page", 0)
    )


@api.add("GET", "/integration/api/pools/{pool}/logs/executions")
def execution_items(state: EmulatorState, req: Request) -> Response:
    return 200, state.execution_items(
        req.params["pool"], req.query.get("executionId"), req.query.get("type", "JOB").upper(), req.query.get("id")
    )


@api.add("GET", "/integration/api/pools/{pool}/logs/executions/detail")
def execution_detail(state: EmulatorState, req: Request) -> Response:
    levels = {level.strip().upper() for level in req.query.get("logLevels", "").split(",") if level.strip()}
    return 200, state.execution_detail(req.params["pool"], req.query.get("executionId"), req.query.get("id"), levels)


@api.add("GET", "/integration/api/pools/{pool}/logs/status")
def job_statuses(state: EmulatorState, req: Request) -> Response:
    return 200, state.job_statuses(req.params["pool"])


def _int(req: Request, name: str, default: int) -> int:
    try:
        return int(req.query.get(name, default))
    except ValueError:
        raise ApiError(400, "Bad Request", f"{name} must be a whole number.") from None


def _push_routes(prefix: str) -> None:
    @api.add("POST", prefix + "/{pool}/jobs/?", scopes=PUSH_SCOPES)
    def create(state: EmulatorState, req: Request) -> Response:
        job = state.create_push_job(req.params["pool"], req.json())
        return (204, None) if job is None else (200, job)

    @api.add("GET", prefix + "/{pool}/jobs/?", scopes=PUSH_SCOPES)
    def list_jobs(state: EmulatorState, req: Request) -> Response:
        return 200, state.list_push_jobs(req.params["pool"])

    @api.add("GET", prefix + "/{pool}/jobs/{job}", scopes=PUSH_SCOPES)
    def get(state: EmulatorState, req: Request) -> Response:
        return 200, state.get_push_job(req.params["pool"], req.params["job"])

    @api.add("POST", prefix + "/{pool}/jobs/{job}", scopes=PUSH_SCOPES)
    def execute(state: EmulatorState, req: Request) -> Response:
        state.execute_push_job(req.params["pool"], req.params["job"], req.path)
        return 200, None

    @api.add("DELETE", prefix + "/{pool}/jobs/{job}", scopes=PUSH_SCOPES)
    def delete(state: EmulatorState, req: Request) -> Response:
        state.delete_push_job(req.params["pool"], req.params["job"])
        return 200, None

    @api.add("POST", prefix + "/{pool}/jobs/{job}/cancel", scopes=PUSH_SCOPES)
    def cancel(state: EmulatorState, req: Request) -> Response:
        state.cancel_push_job(req.params["pool"], req.params["job"])
        return 200, None

    @api.add("GET", prefix + "/{pool}/jobs/{job}/chunks", scopes=PUSH_SCOPES)
    def chunks(state: EmulatorState, req: Request) -> Response:
        return 200, state.list_chunks(req.params["pool"], req.params["job"])

    @api.add("POST", prefix + "/{pool}/jobs/{job}/chunks/{kind}", scopes=PUSH_SCOPES)
    def add_chunk(state: EmulatorState, req: Request) -> Response:
        kind = req.params["kind"]
        if kind not in ("upserted", "deleted"):
            raise ApiError(404, "Not Found", f"No chunk kind {kind}.")
        data = multipart_file(req.handler.headers.get("Content-Type", ""), req.body)
        state.add_chunk(req.params["pool"], req.params["job"], kind, data)
        return 200, None


for _prefix in PUSH_PREFIXES:
    _push_routes(_prefix)


def multipart_file(content_type: str, body: bytes, field: str = "file") -> memoryview:
    """The bytes of the multipart part named ``field`` (a view of ``body``); 400 when there is none."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if "multipart/form-data" not in content_type or not match:
        raise ApiError(400, "Bad Request", "A chunk must be sent as multipart/form-data with a 'file' part.")
    delimiter = b"--" + match.group(1).encode()
    name = re.compile(rb'name="' + re.escape(field.encode()) + rb'"')
    # Found by offsets and answered as a view of the body: a chunk of hundreds of MB is not copied.
    start = body.find(delimiter)
    while start != -1:
        begin = start + len(delimiter)
        if body.startswith(b"--", begin):
            break
        start = body.find(delimiter, begin)
        end = len(body) if start == -1 else start
        head_end = body.find(b"\r\n\r\n", begin, end)
        content = end if head_end == -1 else head_end + 4
        if name.search(body, begin, end if head_end == -1 else head_end):
            if end - content >= 2 and body.startswith(b"\r\n", end - 2):
                end -= 2
            return memoryview(body)[content:end]  # a view: a chunk of hundreds of MB is not copied
    raise ApiError(400, "Bad Request", f"The multipart body has no part named '{field}'.")


# --- admin API (not Celonis) ------------------------------------------------------------------


@admin.add("POST", "/_emulator/seed", scopes=None)
def admin_seed(state: EmulatorState, req: Request) -> Response:
    seed = req.json()
    try:
        validate_seed(seed)
    except ValueError as exc:
        raise ApiError(400, "Bad Request", str(exc)) from None
    state.load(seed)
    return 200, {"pools": len(state.pools)}


@admin.add("GET", "/_emulator/pools/{pool}/tables/{table}", scopes=None)
def admin_table(state: EmulatorState, req: Request) -> Response:
    table = state.table(req.params["pool"], req.params["table"])
    if req.query.get("format") == "parquet":
        return 200, tables.to_parquet_bytes(table), {"Content-Type": "application/vnd.apache.parquet"}
    rows = table.to_pylist()
    return 200, {"columns": table.column_names, "types": [str(t) for t in table.schema.types], "rows": rows}


@admin.add("POST", "/_emulator/faults", scopes=None)
def admin_add_fault(state: EmulatorState, req: Request) -> Response:
    return 200, state.add_fault(req.json() or {})


@admin.add("DELETE", "/_emulator/faults", scopes=None)
def admin_clear_faults(state: EmulatorState, req: Request) -> Response:
    with state.lock:
        state.faults.clear()
    return 200, {"faults": 0}


@admin.add("GET", "/_emulator/requests", scopes=None)
def admin_requests(state: EmulatorState, req: Request) -> Response:
    with state.lock:
        return 200, list(state.request_log)


@admin.add("DELETE", "/_emulator/requests", scopes=None)
def admin_clear_requests(state: EmulatorState, req: Request) -> Response:
    with state.lock:
        state.request_log.clear()
    return 200, {"requests": 0}


@admin.add("POST", "/_emulator/tokens/expire", scopes=None)
def admin_expire_tokens(state: EmulatorState, req: Request) -> Response:
    return 200, {"expired": state.expire_tokens()}


@admin.add("POST", "/_emulator/oauth-clients/{client}/revoke", scopes=None)
def admin_revoke(state: EmulatorState, req: Request) -> Response:
    with state.lock:
        state.revoked_clients.add(req.params["client"])
    return 200, {"revoked": req.params["client"]}


@admin.add("GET", "/_emulator/ingestion", scopes=None)
def admin_ingestion(state: EmulatorState, req: Request) -> Response:
    with state.lock:
        return 200, list(state.ingestion_log)


catalog.register_routes(api, admin)  # discovery, job subsets, load history (emulator/catalog.py)


# --- the handler ------------------------------------------------------------------------------


class CelonisRequestHandler(BaseHTTPRequestHandler):
    """Dispatches one HTTP request: admin, OAuth token, S3 ingestion, or the Celonis REST API."""

    protocol_version = "HTTP/1.1"
    server_version = "CelonisEmulator/1.0"
    # An answer is written as headers, then body: with Nagle's algorithm on, the body waits for the client's
    # delayed ACK of the headers (40 ms on Linux) on every keep-alive request. Timing only, nothing observable.
    disable_nagle_algorithm = True
    state: EmulatorState  # set on the subclass made by ``make_server``

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s %s", self.address_string(), format % args)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def _dispatch(self, method: str) -> None:
        started = time.time()
        path = urlsplit(self.path).path
        body = self._read_body()
        auth_kind = (self.headers.get("Authorization") or "").split(" ", 1)[0] or None
        status = 500
        fault = None
        # Logged before the answer is written, so a client that got its answer always finds it in the log.
        self._entry: dict[str, Any] | None = (
            None
            if path.startswith("/_emulator/")
            else {
                "time": started,
                "method": method,
                "path": path,
                "query": urlsplit(self.path).query,
                "status": 0,
                "auth": auth_kind,
                "bytes": len(body),
            }
        )
        if not path.startswith("/_emulator/"):
            fault = self.state.take_fault(method, path)
        try:
            if fault and fault.delay and fault.drop != "after":
                time.sleep(fault.delay)
            if fault and fault.drop == "before":
                status = 0
                self._drop()
                return
            if fault and fault.status:
                status = int(fault.status)
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                body_out = {
                    "title": "Injected fault",
                    "status": status,
                    "detail": f"Celonis Support ID: emu-{uuid.uuid4().hex[:12]}",
                    "errorCode": "INJECTED",
                }
                self._send_json(status, body_out, headers)
                return
            if path.startswith("/_emulator/"):
                status = self._run(admin, method, path, body, authenticate=False)
            elif path == "/oauth2/token" and method == "POST":
                status = self._token(body)
            elif path == INGESTION_PREFIX or path.startswith(INGESTION_PREFIX + "/"):
                status = self._s3(method, path, body, drop_after=bool(fault and fault.drop == "after"))
            else:
                status = self._run(
                    api,
                    method,
                    path,
                    body,
                    authenticate=True,
                    drop_after=bool(fault and fault.drop == "after"),
                    delay_after=fault.delay if fault and fault.drop == "after" else 0.0,
                )
        except (ConnectionError, BrokenPipeError):
            status = 0
        except Exception as exc:  # noqa: BLE001 - answer like Celonis's ExceptionReference, keep serving
            log.exception("Emulator error on %s %s", method, path)
            status = 500
            reference = f"emu-{uuid.uuid4().hex[:12]}"
            self._send_json(
                500,
                {
                    "reference": reference,
                    "message": f"Internal error ({type(exc).__name__})",
                    "shortMessage": "Internal Server Error",
                },
            )
        finally:
            if self._entry is not None:  # no answer was written (a dropped connection)
                self._entry["status"] = status
                self.state.log_request(self._entry)
                self._entry = None

    def _drop(self) -> None:
        """Close the connection without an answer (a reset, as the client sees it)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _run(
        self,
        router: Router,
        method: str,
        path: str,
        body: bytes,
        *,
        authenticate: bool,
        drop_after: bool = False,
        delay_after: float = 0.0,
    ) -> int:
        try:
            func, params, scopes = router.match(method, path)
            if authenticate:
                principal = self.state.authenticate(self.headers.get("Authorization"))
                if scopes:
                    principal.require(scopes)
            result = func(self.state, Request(self, params, body))
        except ApiError as exc:
            self._send_json(exc.status, exc.body, exc.headers)
            return exc.status
        if drop_after:
            if delay_after:
                time.sleep(delay_after)
            self._drop()
            return 0
        status, payload = result[0], result[1]
        headers = result[2] if len(result) > 2 else {}
        if isinstance(payload, bytes):
            self._send(status, payload, headers)
        elif payload is None:
            self._send(status, b"", headers)
        else:
            self._send_json(status, payload, headers)
        return status

    def _token(self, body: bytes) -> int:
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if not form and "multipart/form-data" in self.headers.get("Content-Type", ""):
            form = {}
            for name in ("grant_type", "scope", "client_id", "client_secret"):
                try:
                    form[name] = bytes(multipart_file(self.headers["Content-Type"], body, name)).decode()
                except ApiError:
                    pass
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        auth = self.headers.get("Authorization") or ""
        if auth.lower().startswith("basic "):
            try:
                client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                client_id = client_secret = None
        if form.get("grant_type") != "client_credentials":
            self._send_json(400, {"error": "unsupported_grant_type"})
            return 400
        try:
            token = self.state.issue_token(client_id, client_secret, form.get("scope"))
        except ApiError as exc:
            self._send_json(exc.status, exc.body)
            return exc.status
        self._send_json(200, token, {"Cache-Control": "no-store"})
        return 200

    def _s3(self, method: str, path: str, body: bytes, drop_after: bool = False) -> int:
        raw_path = urlsplit(self.path).path
        raw_query = urlsplit(self.path).query
        query = parse_qs(raw_query, keep_blank_values=True)
        resource = path[len(INGESTION_PREFIX) :]
        try:
            access_key = s3.access_key_of(self.headers.get("Authorization"))
            pool_id, connection = self.state.ingestion_secret(access_key)
            s3.verify_signature(method, raw_path, raw_query, self.headers, connection["secret_key"])
            parts = unquote(resource).lstrip("/").split("/")
            if parts[0] != "continuous":
                raise s3.S3Error(404, "NoSuchBucket", f"The bucket {parts[0]!r} does not exist; use 'continuous'.")
            if len(parts) < 5 or parts[1] != "connection" or not parts[4]:
                raise s3.S3Error(
                    400, "InvalidArgument", "Keys must look like connection/<connectionId>/<tableName>/<fileName>."
                )
            if parts[2] != connection["id"]:
                raise s3.S3Error(403, "AccessDenied", "These credentials belong to another data connection.")
            key = "/".join(parts[1:])
            table = parts[3]
            status = self._s3_object(method, key, table, query, body, pool_id, connection)
        except s3.S3Error as exc:
            payload = b"" if method == "HEAD" else exc.xml(resource)
            self._send(exc.status, payload, {"Content-Type": "application/xml"})
            return exc.status
        return status

    def _s3_object(
        self,
        method: str,
        key: str,
        table: str,
        query: dict[str, list[str]],
        body: bytes,
        pool_id: str,
        connection: dict[str, Any],
    ) -> int:
        state = self.state
        upload_id = query.get("uploadId", [None])[0]
        if method == "HEAD":
            with state.lock:
                data = state.objects.get(key)
                etag = state.object_etags.get(key)
            if data is None:
                raise s3.S3Error(404, "NoSuchKey", "The specified key does not exist.")
            self._send(200, b"", {"Content-Length": str(len(data)), "ETag": f'"{etag or _etag(data)}"'}, head=True)
            return 200
        if method == "POST" and "uploads" in query:
            new_id = state.start_multipart(key)
            self._send(
                200,
                s3.xml_document(
                    "InitiateMultipartUploadResult", {"Bucket": "continuous", "Key": key, "UploadId": new_id}
                ),
                {"Content-Type": "application/xml"},
            )
            return 200
        if method == "PUT" and upload_id:
            data = s3.decode_payload(body, self.headers)
            digest = _etag(data)
            with state.lock:
                upload = state.uploads.get(upload_id)
                if upload is None:
                    raise s3.S3Error(404, "NoSuchUpload", "The specified upload does not exist.")
                upload["parts"][int(query["partNumber"][0])] = data
                upload.setdefault("digests", {})[int(query["partNumber"][0])] = digest
            self._send(200, b"", {"ETag": f'"{digest}"'})
            return 200
        if method == "POST" and upload_id:
            with state.lock:
                upload = state.uploads.pop(upload_id, None)
            if upload is None:
                raise s3.S3Error(404, "NoSuchUpload", "The specified upload does not exist.")
            numbers = s3.completed_part_numbers(body) or sorted(upload["parts"])
            data = b"".join(upload["parts"][n] for n in numbers)
            # S3's multipart ETag: the MD5 of the parts' MD5s, then "-" and the number of parts.
            digests = b"".join(bytes.fromhex(upload["digests"][n]) for n in numbers)
            etag = f"{hashlib.md5(digests).hexdigest()}-{len(numbers)}"  # noqa: S324 - S3 ETag, not security
            state.ingest(pool_id, connection, table, key, data, etag)
            self._send(
                200,
                s3.xml_document(
                    "CompleteMultipartUploadResult", {"Bucket": "continuous", "Key": key, "ETag": f'"{etag}"'}
                ),
                {"Content-Type": "application/xml"},
            )
            return 200
        if method == "DELETE" and upload_id:
            with state.lock:
                state.uploads.pop(upload_id, None)
            self._send(204, b"")
            return 204
        if method == "PUT":
            data = s3.decode_payload(body, self.headers)
            state.ingest(pool_id, connection, table, key, data)
            self._send(200, b"", {"ETag": f'"{_etag(data)}"'})
            return 200
        raise s3.S3Error(405, "MethodNotAllowed", f"{method} is not supported on the ingestion endpoint.")

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(
            status, json.dumps(payload, default=str).encode(), {"Content-Type": "application/json", **(headers or {})}
        )

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None, head: bool = False) -> None:
        entry = getattr(self, "_entry", None)
        if entry is not None:
            entry["status"] = status
            self.state.log_request(entry)
            self._entry = None
        self.send_response(status)
        headers = dict(headers or {})
        if not head:
            headers["Content-Length"] = str(len(payload))
        headers.setdefault("x-amz-request-id", uuid.uuid4().hex[:16])
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if payload and not head and self.command != "HEAD":
            self.wfile.write(payload)


def _etag(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()  # noqa: S324 - S3 ETag, not security


class EmulatorServer(ThreadingHTTPServer):
    """A threaded HTTP server holding one ``EmulatorState``."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, host: str, port: int, state: EmulatorState) -> None:
        handler = type("BoundHandler", (CelonisRequestHandler,), {"state": state})
        super().__init__((host, port), handler)
        self.state = state

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


def start_in_thread(host: str = "127.0.0.1", port: int = 0, seed: dict[str, Any] | None = None) -> EmulatorServer:
    """Start an emulator in a background thread (port 0 = a free port); stop it with ``shutdown()``."""
    server = EmulatorServer(host, port, EmulatorState(seed))
    thread = threading.Thread(target=server.serve_forever, name="celonis-emulator", daemon=True)
    thread.start()
    return server
