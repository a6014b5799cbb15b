"""The server-rendered web UI: one router per domain's pages, put together once per process.

Progressive enhancement: every page works without JavaScript; forms post and redirect. Signed-in
pages read the ``kb_session`` cookie; every POST checks the session's CSRF token. Errors from the
actions (``KbError``) become an HTML page with the same status code the API would give, or the form
again with the message. Who may do what is decided by the actions, exactly as for the API and the
CLI: a page translates a form into an action's input and renders its result (docs/architecture.md).
"""

from __future__ import annotations

import functools

from fastapi import APIRouter

from kb.web import accounts, admin, documents, experts, insights, notifications, public, search, social, taxonomy, work
from kb.web.common import STATIC_DIR

__all__ = ["PAGES", "STATIC_DIR", "web_router"]

PAGES = (accounts, search, documents, social, experts, notifications, work, admin, insights, taxonomy, public)
"""The page modules, one per domain, in the order their routes are matched."""


@functools.cache
def web_router() -> APIRouter:
    """Every page of the web UI, in one router; ``kb.app`` includes it once per process, with the API's
    routers, so that each page compiles once rather than once per app (``kb.app._shared_routes``)."""
    router = APIRouter(include_in_schema=False)
    for pages in PAGES:
        router.include_router(pages.router)
    return router
