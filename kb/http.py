"""HTTP plumbing shared by every domain's ``api`` module: sessions, authentication, route access,
and the handlers that give every error the one JSON shape (no stack traces).

Every route declares the action it performs with ``require_for("<row>")`` (exactly one access level
per route, from that row of ``kb.permissions``; checked by tests/test_permission_matrix.py and
tests/test_docs.py against docs/permissions.md). Token resolution is injected by
``kb.app.create_app`` as ``app.state.resolve_token`` so this module imports no kb domain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

import logging
import re

from fastapi import Depends, FastAPI, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from kb.actors import ANONYMOUS, Access, Actor
from kb.permissions import access_of, gate
from kb.errors import (
    COMMON_ERROR_RESPONSES, STATUS_TO_CODE, ErrorCode, KbError, error_payload, jsonable_validation_errors,
)

log = logging.getLogger("kb.http")

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ApiToken",
    description="An API token from `kb token create` or `POST /api/v1/me/tokens`, sent as `Authorization: Bearer …`.",
)

ACCESS_ATTRIBUTE = "kb_access"
ACTION_ATTRIBUTE = "kb_action"
MAX_PAGE_SIZE = 100
MAX_OFFSET = 100_000


def get_session(request: Request) -> Iterator[Session]:
    """A session for one request. Closing only: commits happen in ``kb.db.transaction``."""
    session = request.app.state.db.session()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def _describe(access: Access) -> str:
    roles = ", ".join(sorted(access.admitted - {ANONYMOUS})) if access is not Access.anonymous else "anyone"
    return f"Access: {access.value} ({roles})."


def require(access: Access) -> Callable[..., Actor | None]:
    """The dependency a route uses to declare and enforce its access level.

    Anonymous routes never read credentials (public endpoints must not depend on who calls). For
    every other level a missing or unknown token is 401 and a signed-in user without an admitted
    role is 403. Space-scoped levels are re-checked by the service for the space concerned.
    """
    if access is Access.anonymous:
        def anonymous() -> None:
            return None

        setattr(anonymous, ACCESS_ATTRIBUTE, access)
        return anonymous

    def authenticated(
        request: Request,
        session: SessionDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    ) -> Actor:
        if credentials is None or not credentials.credentials:
            raise KbError(ErrorCode.NOT_AUTHENTICATED, "Sign in: send an API token as 'Authorization: Bearer …'",
                          headers={"WWW-Authenticate": "Bearer"})
        actor = request.app.state.resolve_token(session, credentials.credentials)
        if actor is None:
            raise KbError(ErrorCode.NOT_AUTHENTICATED, "The API token is unknown, expired or revoked",
                          headers={"WWW-Authenticate": "Bearer"})
        gate(actor, access)  # the same refusal the action gives (kb.permissions)
        request.state.actor = actor
        return actor

    setattr(authenticated, ACCESS_ATTRIBUTE, access)
    return authenticated


def require_for(action: str) -> Callable[..., Actor | None]:
    """The dependency of a route that performs ``action``: its row of ``kb.permissions.PERMISSIONS``.

    The gate is the same one the action applies on every surface (``kb.permissions.authorize``);
    here it only answers early with the HTTP status and ``WWW-Authenticate`` header.
    """
    dependency = require(access_of(action))
    setattr(dependency, ACTION_ATTRIBUTE, action)
    return dependency


def declared_action(route: Any) -> str | None:
    """The action a route performs, as declared through ``require_for`` (None for plain ``require``)."""
    stack = list(route.dependant.dependencies)
    while stack:
        dependant = stack.pop()
        action = getattr(dependant.call, ACTION_ATTRIBUTE, None)
        if action is not None:
            return action
        stack.extend(dependant.dependencies)
    return None


def declared_access(route: Any) -> list[Access]:
    """The access levels a route declares through ``require`` (exactly one is expected)."""
    found: list[Access] = []
    stack = list(route.dependant.dependencies)
    while stack:
        dependant = stack.pop()
        access = getattr(dependant.call, ACCESS_ATTRIBUTE, None)
        if access is not None:
            found.append(access)
        stack.extend(dependant.dependencies)
    return found


def api_routes(routers: list[Any]) -> list[Any]:
    """The APIRoutes of ``routers`` (their paths include the router's prefix)."""
    from fastapi.routing import APIRoute

    return [route for router in routers for route in router.routes if isinstance(route, APIRoute)]


def publish_access(app: FastAPI, routes: list[Any]) -> None:
    """Check that every API route declares one access level, and publish it in ``app``'s OpenAPI spec.

    The routes are module objects shared by every app built in a process, so nothing is written on
    them: the level goes into this app's own spec (``x-kb-access`` and a note in the description).
    Annotating the routes themselves gave the third app three notes (issue 15).

    Raises:
        RuntimeError: a route declares no access level or several (a bug in that route).
    """
    levels: dict[tuple[str, str], Access] = {}
    for route in routes:
        declared = set(declared_access(route))
        if len(declared) != 1:
            raise RuntimeError(f"Bug: route {sorted(route.methods)} {route.path} declares access {sorted(declared)}; exactly one is required")
        access = declared.pop()
        for method in route.methods:
            levels[(route.path_format, method.lower())] = access
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            for path, operations in spec.get("paths", {}).items():
                for method, operation in operations.items():
                    access = levels.get((path, method))
                    if access is None:
                        continue
                    operation["x-kb-access"] = access.value
                    note = _describe(access)
                    operation["description"] = f"{operation['description']}\n\n{note}" if operation.get("description") else note
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def api_router_options(tag: str) -> dict[str, Any]:
    """Shared router arguments: every API route declares the common error responses."""
    return {"tags": [tag], "responses": COMMON_ERROR_RESPONSES}


def client_ip(request: Request) -> str:
    """The client's IP address, the key of per-IP rate limits.

    The direct peer, unless it is one of ``KB_TRUSTED_PROXIES``: then ``kb.app`` has already replaced
    it with the rightmost X-Forwarded-For hop that is not a trusted proxy (what the last trusted
    proxy saw), so a client cannot pick its own key by sending X-Forwarded-For.
    """
    return request.client.host if request.client else "unknown"


class Page:
    """Limit/offset paging with bounds (oversized values are 422, see RELIABILITY T13)."""

    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")] = 20,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip")] = 0,
    ) -> None:
        self.limit = limit
        self.offset = offset


PageDep = Annotated[Page, Depends()]


# A JSON string escape of NUL, not itself escaped ("\\u0000" is a backslash and "u0000").
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


async def refuse_nul(request: Request) -> None:
    """No text a request carries may hold NUL: a 422 on every route, never a failed write.

    PostgreSQL text refuses NUL, so without this check a comment or a query parameter holding one
    failed as a 500 on PostgreSQL and was stored on SQLite. A path holding NUL names nothing: a 404
    (no lookup has to guard against it). Files in multipart forms are left to their parsers.
    """
    if any("\x00" in str(value) for value in request.path_params.values()):
        raise KbError(ErrorCode.NOT_FOUND, "Nothing is named with a NUL character (U+0000)")
    where = None
    if any("\x00" in key or "\x00" in value for key, value in request.query_params.multi_items()):
        where = "query"
    else:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.form()  # starlette caches it for the route
            if any("\x00" in key or (isinstance(value, str) and "\x00" in value) for key, value in form.multi_items()):
                where = "form"
        elif kind == "application/json" or kind.endswith("+json"):
            body = await request.body()
            if b"\x00" in body or _JSON_NUL.search(body):
                where = "body"
    if where is not None:
        raise KbError(ErrorCode.VALIDATION_ERROR, "Text may not contain the NUL character (U+0000)",
                      details=[{"loc": [where], "msg": "NUL character (U+0000) in text", "type": "value_error"}])


def install_error_handlers(app: FastAPI) -> None:
    """Make every error response of ``app`` use the one JSON shape."""
    def respond(code: ErrorCode, message: str, details: Any = None, headers: dict[str, str] | None = None):
        return JSONResponse(error_payload(code, message, details), status_code=code.status, headers=headers)

    @app.exception_handler(KbError)
    async def _kb_error(request, exc: KbError):  # noqa: ANN001
        return respond(exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request, exc: RequestValidationError):  # noqa: ANN001
        errors = jsonable_validation_errors(list(exc.errors()))
        if any(error["type"] == "json_invalid" for error in errors):
            return respond(ErrorCode.VALIDATION_ERROR, "The request body is not valid JSON", errors)
        return respond(ErrorCode.VALIDATION_ERROR, "The request is not valid", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, exc: StarletteHTTPException):  # noqa: ANN001
        code = STATUS_TO_CODE.get(exc.status_code, ErrorCode.BAD_REQUEST if exc.status_code < 500 else ErrorCode.INTERNAL_ERROR)
        message = exc.detail if isinstance(exc.detail, str) else code.code.replace("_", " ")
        if exc.status_code == 404 and message == "Not Found":
            message = "No such resource"
        return JSONResponse(
            error_payload(code, message), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request, exc: Exception):  # noqa: ANN001
        log.exception("Unhandled error on %s %s", request.method, request.url.path)
        return respond(ErrorCode.INTERNAL_ERROR, "An internal error occurred; it has been logged")
