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
import logging
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from kb.accounts import actions as accounts
from kb.notifications import actions as notifications
from kb.permissions import may
from kb.social.schemas import MAX_BODY, MAX_TITLE
from kb.actors import Actor, SpaceRole
from kb.errors import ErrorCode, KbError
from kb.http import get_session
from kb.web import forms, i18n, render
from kb.web.security import SESSION_COOKIE, is_tls, same

log = logging.getLogger("kb.web")
HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["quote"] = quote
templates.env.filters["document_html"] = render.document_html
templates.env.globals["switch_href"] = i18n.switch_href
# The community's caps, so a form never lets one type more than the server takes (a comment of 12,000
# characters was typed in full, then refused).
templates.env.globals["community_limits"] = {"title": MAX_TITLE, "body": MAX_BODY}

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
    "unchanged": "This file is imported already: this version holds exactly its bytes, so nothing was changed or "
                 "submitted (the fields on the form were not applied either).",
    "approved": "Approved: it is now the version everyone sees, and searchable.",
    "rejected": "Rejected: the author has a new draft with your reason.",
    "report_dismissed": "The report is dismissed: it has left the review queue, and the reader is told who dismissed it and why.",
    "report_closed": "That report was closed already (dismissed, or answered by an approval or a retirement): nothing changed.",
    "asked": "Your question is posted.",
    "answered": "Your answer is posted.",
    "voted": "Your vote is counted.",
    "accepted": "The answer is accepted.",
    "promoted": "The answer is now curated knowledge submitted for review: another owner of the space approves it.",
    "moderated": "Done, with your reason on record.",
    "governance-approved": "Approved: the change has taken effect, with you on record as its approver.",
    "governance-refused": "Refused: nothing changed, and your reason is on record.",
    "profile": "Your expertise profile is saved.",
    "asked-expert": "Your request is in their inbox.",
    "scheme-added": "The concept scheme is added: add its concepts below.",
    "concept-added": "The concept is added.",
    "concept-saved": "The concept is saved.",
    "concept-merged": "Merged: every version that named the old concept is now read as naming this one.",
    "merge-requested": "Approved pages name this concept, so the merge waits for a second person: an owner of one "
                       "of their spaces or an admin approves it on the governance page.",
    "concept-deprecated": "Deprecated: the versions that name it keep it; no one is offered it any more.",
    "concept-deleted": "The concept is deleted.",
}


class WebRoute(APIRoute):
    """Render service errors, malformed input and failures as an HTML page with the API's status code."""

    def get_route_handler(self) -> Callable:  # type: ignore[type-arg]
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except KbError as error:
                if error.code is ErrorCode.NOT_AUTHENTICATED:
                    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
                fields = forms.field_errors(error.details) if isinstance(error.details, list) and error.details \
                    and isinstance(error.details[0], dict) and "loc" in error.details[0] else {}
                return error_page(request, error.code.status, error.message, error.headers,
                                  kept=await _kept_form(request, resend=error.details != FORGED), fields=fields)
            except (RequestValidationError, ValidationError) as error:
                fields = forms.field_errors(error.errors())
                return error_page(request, 422, forms.summary(fields), kept=await _kept_form(request), fields=fields)
            except StarletteHTTPException as error:  # e.g. 413 from kb.app.BodySizeLimit: nothing was read to keep
                return error_page(request, error.status_code, str(error.detail), getattr(error, "headers", None))
            except Exception:  # a bug: the person keeps the header and a way back (issue 17), the log the trace
                log.exception("Unhandled error on page %s %s", request.method, request.url.path)
                return error_page(request, 500, "Something went wrong on our side; it has been logged. Please try again.")

        return page_handler


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


# The details of a refused CSRF check: such a post is not known to be the person's, so its error page
# shows the text typed, to copy, but never offers the post again (a "send again" button would carry a
# forger's fields, an approval's say, with the person's valid token).
FORGED = {"rule": "csrf"}


def checked(who: Viewer, csrf: str | None) -> Actor:
    """The actor of a form post, after the CSRF check."""
    actor = signed_in(who)
    if not same(csrf, who.csrf):
        raise KbError(ErrorCode.FORBIDDEN, "This form has expired or did not come from kb: reload the page and try again",
                      details=FORGED)
    return actor


Csrf = Annotated[str | None, Form(max_length=100)]


def page(request: Request, template: str, who: Viewer | None, status_code: int = 200, **context: Any) -> HTMLResponse:
    notice = NOTICES.get(request.query_params.get("done", ""))
    return templates.TemplateResponse(request, template, {"who": who, "notice": notice, **context}, status_code=status_code)


EDITABLE_FIELDS = ("body_md", "comment", "reason", "note")
"""Fields of a refused form that its error page gives back to edit; the others it carries along unseen."""
NEVER_KEPT = ("csrf", "password", "new_password", "current_password")


@dataclass(frozen=True)
class KeptForm:
    """A refused form post, to send again from its error page: what was typed is never lost (issue 17)."""

    action: str
    editable: list[tuple[str, str]]
    hidden: list[tuple[str, str]]
    resend: bool = True  # False: the text is shown to copy, with no form to send it again


async def _kept_form(request: Request, resend: bool = True) -> KeptForm | None:
    """The refused post's text fields, when it has one a person typed (a comment, an answer, a reason);
    with ``resend`` false (a post not known to be the person's) the text only, nothing to send again."""
    if request.method != "POST" or not request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    try:
        form = await request.form()  # parsed already for the route: starlette keeps it on the request
    except Exception:  # noqa: BLE001 - an unreadable body has nothing to keep
        return None
    items = [(k, v) for k, v in form.multi_items() if isinstance(v, str) and k not in NEVER_KEPT]
    editable = [(k, v) for k, v in items if k in EDITABLE_FIELDS]
    if not editable:
        return None
    if not resend:
        return KeptForm(request.url.path, editable, [], resend=False)
    return KeptForm(request.url.path, editable, [(k, v) for k, v in items if k not in EDITABLE_FIELDS])


def way_back(request: Request) -> str:
    """Where "back" goes from an error: the referring page when it is this site's, else the start page."""
    referrer = urlsplit(request.headers.get("referer", ""))
    if referrer.netloc and referrer.netloc == request.url.netloc and referrer.scheme in ("http", "https"):
        path = referrer.path + (f"?{referrer.query}" if referrer.query else "")
        public = request.url.path.startswith("/public")
        # a GET's own address would show the same error again; a refused form's page is where to go back to
        same = path == request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if (not same or request.method != "GET") and (
                not public or path.startswith("/public")):  # a citizen is never sent into the employees' pages
            return local_path(path)
    return "/public" if request.url.path.startswith("/public") else "/"


def _viewer_of(request: Request) -> Viewer | None:
    """Who is looking, read afresh for an error page (the route's own session may be what failed)."""
    try:
        with request.app.state.db.session() as session:
            return viewer(request, session)
    except Exception:  # noqa: BLE001 - the error page is shown signed out rather than not at all
        log.exception("Could not tell who sees the error page of %s", request.url.path)
        return None


def error_page(request: Request, status: int, message: str, headers: dict[str, str] | None = None, *,
               kept: KeptForm | None = None, fields: dict[str, str] | None = None) -> HTMLResponse:
    """The error page: the signed-in header, the message in plain words, the refused form's text, a way back.

    Pages under /public get the citizens' own error page, in their language, with the public header.
    """
    if request.url.path == "/public" or request.url.path.startswith("/public/"):
        return public_error_page(request, status, headers)
    who = _viewer_of(request)
    if who is None or who.actor is None:
        kept = None  # a signed-out person has no form to send again
    response = templates.TemplateResponse(request, "error.html", {
        "who": who, "status": status, "message": message, "notice": None, "back": way_back(request),
        "kept": kept, "fields": fields or {}}, status_code=status)
    _retry_after(response, headers)
    return response


def public_error_page(request: Request, status: int, headers: dict[str, str] | None = None,
                      invalid_key: str = "invalid") -> HTMLResponse:
    """The citizens' error page: their language (lang= or the browser's), the public header, no sign-in;
    ``invalid_key`` names the message a 422 shows (from the catalogue: ``invalid``, ``invalid_situation``)."""
    lang = i18n.chosen_language(request.query_params.get("lang"), request.headers.get("accept-language"))
    response = templates.TemplateResponse(request, "public_error.html", {
        "who": None, "notice": None, "status": status, "lang": lang, "languages": i18n.PUBLIC_LANGUAGES,
        "t": i18n.MESSAGES[lang], "back": way_back(request), "q": "", "invalid_key": invalid_key}, status_code=status)
    _retry_after(response, headers)
    return response


def _retry_after(response: Response, headers: dict[str, str] | None) -> None:
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            response.headers[name] = value


def install_page_errors(app: FastAPI) -> None:
    """Errors outside any page route (an unknown address, a failure in middleware) as pages, not JSON, for
    a browser asking for a page: the API and the public API (/api/, /public/v1/) keep the one JSON shape."""
    json_http = app.exception_handlers[StarletteHTTPException]
    json_unexpected = app.exception_handlers[Exception]

    def wants_page(request: Request) -> bool:
        path = request.url.path
        return (not path.startswith(("/api/", "/public/v1/", "/static/")) and path not in ("/api", "/public/v1")
                and "text/html" in request.headers.get("accept", ""))

    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not wants_page(request):
            return await json_http(request, exc)
        message = {404: "There is no page at this address.", 405: "This address does not take that kind of request."}.get(
            exc.status_code, exc.detail if isinstance(exc.detail, str) else "The request was refused.")
        return error_page(request, exc.status_code, message, getattr(exc, "headers", None))

    async def unexpected(request: Request, exc: Exception) -> Response:
        if not wants_page(request):
            return await json_unexpected(request, exc)
        log.exception("Unhandled error on %s %s", request.method, request.url.path)
        return error_page(request, 500, "Something went wrong on our side; it has been logged. Please try again.")

    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unexpected)


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


def facet_links(path: str, params: dict[str, str], selected: list[str], facets: list) -> dict[str, str]:  # noqa: ANN001
    """For each facet value of a results page, the address that selects it (or, when selected, drops it):
    facets work as plain links, without JavaScript, and the selection stays in the address (issue 20)."""
    from urllib.parse import urlencode

    links = {}
    for facet in facets:
        for value in facet.values:
            chosen = [c for c in selected if c != value.concept] if value.selected else [*selected, value.concept]
            query = [(k, v) for k, v in params.items() if v] + [("concept", c) for c in chosen]
            links[value.concept] = f"{path}?{urlencode(query)}"
    return links
