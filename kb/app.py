"""The composition root: ``create_app(settings)`` wires database, domains, middleware and routes.

Nothing connects, reads the environment or loads a model at import time; every other module
receives what it needs from here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from typing import Annotated

from kb import __version__, provenance
from kb.accounts import actions as accounts_actions
from kb.accounts.api import router as accounts_router
from kb.actors import Actor
from kb.config import Settings, load_settings
from kb.documents.api import audit_router as audit_verify_router
from kb.documents.api import router as documents_router
from kb.events import DocumentChanged, DocumentWithdrawn, VersionPublished
from kb.ratelimit import HashGate, RateLimiter
from kb.search.api import public_router as public_search_router
from kb.search.api import router as search_router
from kb.search.indexer import CatchUpLoop, SearchIndexes
from kb.search.warmup import Warmup
from kb.social.api import router as social_router
from kb.experts.api import router as experts_router
from kb.notifications.api import router as notifications_router
from kb.notifications.worker import NotificationLoop, install as install_notifications
from kb.work.api import router as work_router
from kb.taxonomy.api import router as taxonomy_router
from kb.db import Database
from kb.errors import ErrorCode, error_payload
from kb.http import SessionDep, api_router_options, api_routes, install_error_handlers, publish_access, refuse_nul, require_for
from kb.provenance.api import public_router as transparency_router
from kb.provenance.api import router as audit_router
from kb.web.common import install_page_errors
from kb.web.routes import STATIC_DIR, web_router
from kb.web.security import PageSecurityHeaders
from pydantic import BaseModel, Field


BULK_IMPORT_PATHS = re.compile(r"^(/api/v1/spaces/[^/]+/bulk-import|/import/bulk)$")
"""The bulk import uploads (issue 19): a zip of thousands of files, under ``KB_MAX_BULK_IMPORT_BYTES``."""


class BodySizeLimit:
    """Refuse request bodies larger than ``max_bytes`` with 413, whether declared or streamed; the paths
    matching ``larger`` (the bulk import uploads) have ``larger_max_bytes`` instead."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: re.Pattern[str] | None = None,
                 larger_max_bytes: int = 0) -> None:
        self.app = app
        self.default_max_bytes = max_bytes
        self.larger, self.larger_max_bytes = larger, larger_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        larger = self.larger is not None and self.larger.match(scope["path"])
        await _LimitedRequest(self.app, self.larger_max_bytes if larger else self.default_max_bytes)(scope, receive, send)


class _LimitedRequest:
    """One request's body limit (see ``BodySizeLimit``)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > self.max_bytes:
            if scope["path"].startswith(("/api/", "/public/")):
                await _send_json(send, 413, error_payload(
                    ErrorCode.PAYLOAD_TOO_LARGE, f"The request body exceeds the limit of {self.max_bytes} bytes"))
                return

            async def refuse_unread() -> Message:
                # A web form (an import): refused before a byte is read, as the page's own error, so that the
                # person sees a page with the way back to the form, not JSON (issue 17).
                raise StarletteHTTPException(413, f"The file is larger than kb takes ({self.max_bytes / 2**20:.3g} MB "
                                             "at most): go back, your browser keeps what you typed; choose a smaller file")

            await self.app(scope, refuse_unread, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI re-raises an HTTPException met while reading the body (others become 400).
                    raise StarletteHTTPException(413, f"The request body exceeds the limit of {self.max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)


async def _send_json(send: Send, status: int, payload: dict[str, Any]) -> None:
    import json

    body = json.dumps(payload).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class PublicCORS:
    """CORS for ``/public/`` only: anonymous, read-only, no credentials. The rest of the app is same-origin."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(app, allow_origins=origins, allow_methods=["GET"], allow_credentials=False,
                                   allow_headers=["Accept", "Accept-Language", "Content-Language"], max_age=600)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/public/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class Health(BaseModel):
    status: str
    version: str
    database: str
    audit_head_seq: int
    search: str = Field(description="loading: the search models load in the background since start-up (a search "
                                    "waits for them); ready; failed: they could not load (see the log)")


def _health_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", **api_router_options("system"))

    @router.get("/health", response_model=Health, summary="Liveness, database and search readiness")
    def health(request: Request, session: SessionDep, _: Annotated[None, Depends(require_for("system.health"))]) -> Health:
        seq, _hash = provenance.head(session)
        return Health(status="ok", version=__version__, database=session.get_bind().dialect.name, audit_head_seq=seq,
                      search=request.app.state.search_warmup.status)

    return router


APP_DEPENDENCIES = [Depends(refuse_nul)]
"""What every request of the app depends on, before its route's own dependencies."""


@functools.cache
def _api_routers() -> tuple[APIRouter, ...]:
    """The API's routers, in the order their routes are matched."""
    return (_health_router(), accounts_router, documents_router, search_router, public_search_router, social_router,
            experts_router, notifications_router, work_router, taxonomy_router, audit_router, audit_verify_router,
            transparency_router)


@functools.cache
def _shared_routes() -> tuple[BaseRoute, ...]:
    """The API's and the web UI's routes, included once per process and added to every app it builds.

    FastAPI compiles an included router's routes (their dependencies, parameters and response models)
    on the inclusion, when it first matches a request, and ``FastAPI.include_router`` makes a new
    inclusion for each app: every app built (each test builds one) compiled every route it reached
    again, about 0.1 s of CPU per router. Included here once, into a router configured as the app's
    own router is (``APP_DEPENDENCIES``; no prefix, tags or responses), the routes compile once per
    process. Nothing on these routes belongs to one app: settings, database and indexes are read from
    ``request.app.state``. What an inclusion does not carry is the app itself, so
    ``app.dependency_overrides`` does not reach these routes (kb uses none).
    """
    router = APIRouter(dependencies=APP_DEPENDENCIES)
    for included in (*_api_routers(), web_router()):
        router.include_router(included)
    return tuple(router.routes)


def _token_resolver(session: Any, raw: str) -> Actor | None:
    """``app.state.resolve_token`` for ``kb.http``: who an API token stands for (kb.http imports no domain)."""
    return accounts_actions.identify_by_token(session, token=raw)


def wire_search(db: Database, indexes: SearchIndexes, worker: CatchUpLoop | None = None) -> None:
    """Keep this process's indexes current: after each commit that publishes or withdraws, wake the
    background ``worker`` (``KB_INDEX_IN_BACKGROUND``: the request returns at once), or catch up in the
    committing request when there is none."""

    def on_change(_event: object) -> None:
        if worker is not None:
            worker.wake()
            return
        with db.session() as session:
            indexes.catch_up(session)

    for event_type in (VersionPublished, DocumentWithdrawn, DocumentChanged):
        db.bus.subscribe(event_type, on_change)


def create_app(
    settings: Settings | None = None, *, database: Database | None = None, search: SearchIndexes | None = None,
) -> FastAPI:
    """Build the kb web application.

    Args:
        settings: the configuration; read from ``KB_*`` environment variables when omitted.
        database: an existing ``Database`` to share (tests, CLI); one is built from settings otherwise.
        search: existing search indexes to share; built from settings otherwise (the model loads lazily).
    """
    settings = settings or load_settings()
    db = database or Database(settings)
    indexes = search or SearchIndexes(settings)
    follower = CatchUpLoop(db, indexes, settings.index_catch_up_seconds, encode_ahead=settings.index_in_background)
    wire_search(db, indexes, follower if settings.index_in_background else None)
    install_notifications(db, settings)  # the outbox is written in each event's transaction (issue 17)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):  # noqa: ANN202
        # Catch up with what other processes (or a crash) left unindexed: the audit log is the source;
        # then keep catching up, so that changes other processes commit reach this one's search.
        with db.session() as session:
            indexes.catch_up(session)
        accounts_actions.prepare_sign_in()
        warmup.start()  # models load off the request path (issue 17); /api/v1/health says when search is ready
        follower.start()
        notifier = NotificationLoop(db, settings)
        notifier.start()
        try:
            yield
        finally:
            notifier.stop()
            follower.stop()
            if search is None:  # a slot this app claimed goes back to the next process
                indexes.close()

    app = FastAPI(
        lifespan=lifespan,
        dependencies=APP_DEPENDENCIES,
        title="kb",
        version=__version__,
        summary="Enterprise knowledge base with accountable provenance",
        description="Curated knowledge with approval and provenance; community knowledge apart. "
        "Authenticate with `Authorization: Bearer <token>`. Every error has the shape "
        '`{"error": {"code", "message", "details"}}`.',
    )
    app.state.settings = settings
    app.state.db = db
    app.state.resolve_token = _token_resolver
    app.state.search = indexes
    app.state.search_warmup = warmup = Warmup(indexes)
    app.state.rate_limiter = RateLimiter(settings.redis_url, settings.redis_key_prefix)
    app.state.login_gate = HashGate(settings.login_max_concurrent_hashes)
    install_error_handlers(app)
    # The API's routes, then the web UI's (issue 7): pages over the same services.
    app.router.routes.extend(_shared_routes())
    app.state.routers = routers = list(_api_routers())
    publish_access(app, api_routes(routers))

    # The pages' error pages, static files and security headers.
    install_page_errors(app)  # a browser asking for a page gets an error page, the API its JSON (issue 17)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.add_middleware(PageSecurityHeaders)
    app.add_middleware(PublicCORS, origins=settings.public_cors_origins)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes, larger=BULK_IMPORT_PATHS,
                       larger_max_bytes=settings.max_bulk_import_bytes)
    if settings.trusted_proxies:
        # Outermost: the client address every rate limit keys on (kb.http.client_ip) is the hop the
        # last trusted proxy saw, never a value the client wrote into X-Forwarded-For itself.
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app
