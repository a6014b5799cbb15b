"""Shared machinery of the web pages: the page route class, who is looking, CSRF, templates, redirects.

Who is looking comes from ``kb.accounts.actions.identify_by_web_session`` (the cookie, resolved once,
as the API's tokens are by ``identify_by_token``). Imports actions and the foundation, never an
``api`` module or a service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlmodel import Session

from kb.accounts import actions as accounts
from kb.notifications import actions as notifications
from kb.permissions import may
from kb.actors import Actor, SpaceRole
from kb.errors import ErrorCode, KbError
from kb.http import get_session
from kb.web import render
from kb.web.security import SESSION_COOKIE, is_tls, same

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["quote"] = quote
templates.env.filters["document_html"] = render.document_html

# Messages shown after a redirect, chosen by key: no user text is ever reflected through the URL.
NOTICES = {
    "notifications-read": "Marked read.",
    "notification-preference": "Saved: this is how you will be told.",
    "watching": "You are watching it: you will be told of what happens to it.",
    "unwatched": "You no longer watch it.",
    "signed-out": "You are signed out.",
    "commented": "Your comment is posted.",
    "comment_edited": "Your comment is changed (the earlier text is kept).",
    "rated": "Thank you: your rating is saved.",
    "feedback": "Thank you: your answer helps us find the gaps.",
    "flagged": "Thank you: a moderator or the owners will look at it.",
    "saved": "The draft is saved.",
    "submitted": "Submitted for review: the space's owners see it in their review queue.",
    "imported": "Imported as a draft.",
    "approved": "Approved: it is now the version everyone sees, and searchable.",
    "rejected": "Rejected: the author has a new draft with your reason.",
    "asked": "Your question is posted.",
    "answered": "Your answer is posted.",
    "voted": "Your vote is counted.",
    "accepted": "The answer is accepted.",
    "promoted": "The answer is now a draft of curated knowledge, waiting for review.",
    "moderated": "Done, with your reason on record.",
    "governance-approved": "Approved: the change has taken effect, with you on record as its approver.",
    "governance-refused": "Refused: nothing changed, and your reason is on record.",
    "profile": "Your expertise profile is saved.",
    "asked-expert": "Your request is in their inbox.",
}


class WebRoute(APIRoute):
    """Render service errors and malformed input as an HTML page with the API's status code."""

    def get_route_handler(self) -> Callable:  # type: ignore[type-arg]
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except KbError as error:
                if error.code is ErrorCode.NOT_AUTHENTICATED:
                    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
                return error_page(request, error.code.status, error.message, error.headers)
            except (RequestValidationError, ValidationError) as error:
                return error_page(request, 422, "Some of what was sent is not valid: " + describe_invalid(error))

        return page_handler


def describe_invalid(error: RequestValidationError | ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("body", "query", "path", "form"))
        parts.append(f"{where or 'input'}: {item.get('msg', 'invalid')}")
    return "; ".join(parts)


SessionDep = Annotated[Session, Depends(get_session)]


@dataclass
class Viewer:
    """Who is looking: the actor (None when signed out), their web session, and what the navigation offers."""

    actor: Actor | None
    web_session: accounts.WebIdentity | None
    spaces: dict[int, str]

    unread: int = 0
    """Unread notifications: the count in the header (issue 17)."""
    @property
    def csrf(self) -> str:
        return self.web_session.csrf_token if self.web_session else ""

    def may(self, action: str) -> bool:
        """Whether the navigation offers ``action``: its row of kb.permissions, the gate the action applies."""
        return may(self.actor, action)

    def writable_spaces(self) -> list[str]:
        if self.actor is None:
            return []
        return sorted(self.spaces[i] for i, r in self.actor.space_roles.items()
                      if r in (SpaceRole.owner, SpaceRole.contributor) and i in self.spaces)

    def owned_spaces(self) -> list[str]:
        if self.actor is None:
            return []
        return sorted(self.spaces[i] for i, r in self.actor.space_roles.items() if r is SpaceRole.owner and i in self.spaces)


def viewer(request: Request, session: SessionDep) -> Viewer:
    raw = request.cookies.get(SESSION_COOKIE)
    identity = accounts.identify_by_web_session(session, cookie=raw) if raw else None
    if identity is None:
        return Viewer(None, None, {})
    return Viewer(identity.actor, identity, identity.spaces, notifications.unread_count(session, identity.actor))


ViewerDep = Annotated[Viewer, Depends(viewer)]


def signed_in(who: Viewer) -> Actor:
    if who.actor is None:
        raise KbError(ErrorCode.NOT_AUTHENTICATED, "Sign in to see this page")
    return who.actor


def checked(who: Viewer, csrf: str | None) -> Actor:
    """The actor of a form post, after the CSRF check."""
    actor = signed_in(who)
    if not same(csrf, who.csrf):
        raise KbError(ErrorCode.FORBIDDEN, "This form has expired or did not come from kb: reload the page and try again")
    return actor


Csrf = Annotated[str | None, Form(max_length=100)]


def page(request: Request, template: str, who: Viewer | None, status_code: int = 200, **context: Any) -> HTMLResponse:
    notice = NOTICES.get(request.query_params.get("done", ""))
    return templates.TemplateResponse(request, template, {"who": who, "notice": notice, **context}, status_code=status_code)


def error_page(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    response = templates.TemplateResponse(request, "error.html", {"who": None, "status": status, "message": message,
                                                                  "notice": None}, status_code=status)
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            response.headers[name] = value
    return response


def back(url: str, done: str) -> RedirectResponse:
    """Redirect after a form (post/redirect/get), with the key of the notice to show; a #fragment stays last."""
    path, hash_mark, fragment = url.partition("#")
    separator = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{separator}done={done}{hash_mark}{fragment}", status_code=303)


def local_path(url: str | None, default: str = "/") -> str:
    """Only same-site paths are followed after sign-in or a form (no open redirect)."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return default


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", secure=is_tls(request.url.scheme), path="/")



def page_router() -> APIRouter:
    """The router of one domain's pages: its service errors render as HTML pages (``WebRoute``)."""
    return APIRouter(include_in_schema=False, route_class=WebRoute)
