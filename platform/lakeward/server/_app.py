"""The HTTP API: authentication, request limits, logs, and the routes.

Every ``/api/v1`` route authenticates its caller first (``Authorization: Bearer``: an API
token ``lkw_…`` from ``lakeward token issue``, or an OIDC JWT when an issuer is
configured) and answers 401 otherwise. The principal is then bound for the request, so the
library's one guard decides every privileged call as that principal; a denial is 403 with
the policy's explanation. The catalog unreachable is 503 with nothing written; a body of the
wrong shape is 422 naming the field; a body over ``LAKEWARD_SERVER_MAX_BODY_BYTES`` is 413.

Routes: ``GET /livez`` (the process is up), ``GET /healthz`` = ``GET /readyz`` (200
once the catalog answers and the policy bundle loads, else 503), ``GET /api/v1/whoami``,
``GET /api/v1/datasets/{name}`` (``catalog show --json``), ``POST /api/v1/policy/explain``,
``POST /api/v1/commands`` (any CLI command, as the CLI in client mode sends it; same
output as embedded mode; long work may answer with a deployment run instead),
``POST /api/v1/rag/{store}/query`` (``{"text": ..., "k": 5}`` or ``{"queries": [...]}``:
answers from the documents the caller may read, the same JSON as ``lakeward rag query
--json``), and ``GET /api/v1/runs/{id}`` (a run's state, for its requester or an admin).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from contextvars import ContextVar
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakeward.errors import LakewardError, NotAuthenticated, PolicyDenied, http_status
from lakeward.identity import Principal, acting_as

__all__ = ["create_app"]

log = logging.getLogger("lakeward.server")
request_id: ContextVar[str] = ContextVar("lakeward_request_id", default="-")
_request_facts: ContextVar[dict[str, str] | None] = ContextVar("lakeward_request", default=None)


class _JSONFormatter(logging.Formatter):
    """One JSON object per line, with the request id of the request being served."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": request_id.get(),
            "msg": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            data.update(extra)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def configure_logging() -> None:
    """Send the server's and Lakeward's logs to stderr as JSON lines (idempotent)."""
    root = logging.getLogger("lakeward")
    if any(getattr(h, "_lakeward_json", False) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(_JSONFormatter())
    handler._lakeward_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False


class _BodyLimit:
    """413 for bodies over the limit: by Content-Length up front, else while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(self.limit, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await _too_large(self.limit, send)


class _BodyTooLarge(Exception):
    pass


class _RequestLog:
    """A request id for every request (``X-Request-ID``) and one JSON log line per response.

    Plain ASGI (no ``BaseHTTPMiddleware``: it costs a task and a stream per request). The id
    comes from the client's ``X-Request-ID`` when it is short and alphanumeric; the log line
    has method, path (never the query string or any header), status, principal and time.
    """

    def __init__(self, app: ASGIApp, threads: int) -> None:
        self.app = app
        self.threads = threads
        self._limited = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self._limited:  # the event loop exists now: size its worker-thread pool
            import anyio.to_thread

            anyio.to_thread.current_default_thread_limiter().total_tokens = self.threads
            self._limited = True
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = given if given.isalnum() and len(given) <= 64 else uuid.uuid4().hex
        token = request_id.set(rid)
        facts: dict[str, str] = {"principal": "-", "status": "500"}
        facts_token = _request_facts.set(facts)
        started = time.perf_counter()
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                facts["status"] = str(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("request failed")
            if not response_started:
                response = _error(500, "internal", "internal error; see the server log")
                await response(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                extra={
                    "fields": {
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": int(facts["status"]),
                        "principal": facts["principal"],
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                    }
                },
            )
            _request_facts.reset(facts_token)
            request_id.reset(token)


async def _too_large(limit: int, send: Send) -> None:
    body = json.dumps(
        {"error": "body_too_large", "detail": f"request body over {limit} bytes"}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class CommandRequest(BaseModel):
    """``POST /api/v1/commands``: a CLI command line and the client files it reads."""

    model_config = ConfigDict(extra="forbid")

    argv: list[str] = Field(min_length=1, max_length=256)
    uploads: dict[str, dict[str, str]] = Field(default_factory=dict, max_length=8)


class RagQueryRequest(BaseModel):
    """``POST /api/v1/rag/{store}/query``: one query (``text``) or a batch (``queries``)."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    queries: list[str] | None = Field(default=None, max_length=1000)
    k: int = 5


class ExplainRequest(BaseModel):
    """``POST /api/v1/policy/explain``: the subject asked about is not the caller."""

    model_config = ConfigDict(extra="forbid")

    principal: str = Field(min_length=1)
    action: str = Field(min_length=1)
    resource: str = Field(min_length=1)
    context: dict[str, Any] = Field(default_factory=dict)


def _error(status: int, kind: str, detail: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        {"error": kind, "detail": detail, "request_id": request_id.get(), **extra},
        status_code=status,
        headers=headers,
    )


def _status_for(error: str | None) -> int:
    """The status of a command's response: 200 unless a Lakeward error ended it."""
    from lakeward import errors

    return http_status(getattr(errors, error, None) if error else None) or 200


def create_app() -> Any:
    """The ASGI app (FastAPI inside a body-size limit), configured from ``LAKEWARD_*``."""
    from lakeward.server._auth import Authenticator
    from lakeward.server._commands import install_capture, run_command
    from lakeward.settings import get_settings

    settings = get_settings()
    configure_logging()
    install_capture()
    authenticator = Authenticator(settings.server)
    slow_limiter = anyio.CapacityLimiter(settings.server.slow_workers)
    app = FastAPI(title="Lakeward", version="1", docs_url=None, redoc_url=None)

    @app.exception_handler(LakewardError)
    async def _lakeward_error(_: Request, exc: LakewardError) -> JSONResponse:
        status = http_status(type(exc)) or 500
        extra = {"reasons": exc.reasons} if isinstance(exc, PolicyDenied) else {}
        return _error(status, type(exc).__name__, str(exc), **extra)

    async def principal(request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise NotAuthenticated(
                "Missing bearer credential: send `Authorization: Bearer <token>` (a token from "
                "`lakeward token issue`, or an OIDC JWT)."
            )
        who = await run_in_threadpool(authenticator.authenticate, credential.strip())
        facts = _request_facts.get()
        if facts is not None:
            facts["principal"] = who.name
        return who

    @app.get("/livez")
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/healthz")
    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        problems = await run_in_threadpool(authenticator.readiness)
        if problems:
            return JSONResponse({"status": "unready", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/api/v1/whoami")
    async def whoami(who: Principal = Depends(principal)) -> dict[str, Any]:  # noqa: B008
        return {**who.to_dict(), "mode": "server"}

    @app.get("/api/v1/datasets/{name}")
    async def dataset(name: str, who: Principal = Depends(principal)) -> Any:  # noqa: B008
        result = await run_in_threadpool(run_command, who, ["catalog", "show", name, "--json"])
        if result.exit_code != 0:
            status = _status_for(result.error)
            return _error(400 if status == 200 else status, "failed", result.stderr.strip())
        return json.loads(result.stdout)

    @app.post("/api/v1/policy/explain")
    async def explain(body: ExplainRequest, who: Principal = Depends(principal)) -> Any:  # noqa: B008
        from lakeward.policy import engine_for

        def decide() -> dict[str, Any]:
            with acting_as(who):
                engine = engine_for(authenticator.catalog)
                return engine.decide(
                    body.principal, body.action, body.resource, body.context
                ).to_dict()

        return await run_in_threadpool(decide)

    @app.post("/api/v1/rag/{store}/query")
    async def rag_query(
        store: str,
        body: RagQueryRequest,
        who: Principal = Depends(principal),  # noqa: B008
    ) -> Any:
        """Answer as the authenticated principal, from the documents they may read only."""
        from lakeward.errors import InputError
        from lakeward.rag import query_many

        if (body.text is None) == (body.queries is None):
            raise InputError('send "text" (one query) or "queries" (a list), not both')
        texts = [body.text] if body.text is not None else list(body.queries or [])

        def answer() -> Any:
            with acting_as(who):
                results = query_many(authenticator.catalog, who.name, store, texts, k=body.k)
            data = [r.to_dict() for r in results]
            return data[0] if body.text is not None else {"results": data}

        return await run_in_threadpool(answer)

    @app.get("/api/v1/runs/{run_id}")
    async def run(run_id: str, who: Principal = Depends(principal)) -> dict[str, Any]:  # noqa: B008
        from lakeward.orchestration._runs import run_status
        from lakeward.policy import guard

        def status() -> dict[str, Any]:
            info = run_status(run_id)
            if info.requested_by != who.name:  # someone else's run: admins only
                with acting_as(who):
                    guard(authenticator.catalog, who.name, "policy.admin", "platform")
            return info.to_dict() | {"finished": info.finished}

        return await run_in_threadpool(status)

    @app.post("/api/v1/commands")
    async def commands(body: CommandRequest, who: Principal = Depends(principal)) -> JSONResponse:  # noqa: B008
        words = [a for a in body.argv if not a.startswith("-")]
        slow = words[:1] in (["lake"], ["dedup"]) or words[:2] in (
            ["dp", "release"],
            ["dp", "stream"],
        )
        result = await anyio.to_thread.run_sync(
            run_command, who, body.argv, body.uploads, limiter=slow_limiter if slow else None
        )
        return JSONResponse(result.to_dict(), status_code=_status_for(result.error))

    app.state.authenticator = authenticator
    return _wrap(app, settings.server.max_body_bytes, settings.server.workers)


def _wrap(app: FastAPI, limit: int, threads: int) -> Any:
    wrapped = _RequestLog(_BodyLimit(app, limit), threads)
    wrapped.state = app.state  # type: ignore[attr-defined]
    return wrapped
