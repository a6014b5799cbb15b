"""The server-rendered web UI: Jinja2 pages over the same services (and route functions) as the API.

Progressive enhancement: every page works without JavaScript; forms post and redirect. Signed-in
pages read the ``kb_session`` cookie; every POST checks the session's CSRF token. Errors from the
services (``KbError``) become an HTML page with the same status code the API would give, or the
form again with the message. Who may do what is decided by the services, exactly as for the API.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlmodel import Session

from kb.accounts import api as accounts_api
from kb.accounts import service as accounts
from kb.accounts.models import WebSession
from kb.actors import Actor, SpaceRole
from kb.db import MAX_ROW_ID, transaction, utcnow
from kb.documents import api as documents_api
from kb.documents import service as documents
from kb.documents.models import Audience
from kb.documents.schemas import DocumentCreate, DraftSave
from kb.errors import ErrorCode, KbError
from kb.experts import api as experts_api
from kb.experts import service as experts
from kb.experts.schemas import AskExpert, ProfileUpdate
from kb.http import Page, get_session
from kb.provenance import api as audit_api
from kb.search import api as search_api
from kb.search import service as search
from kb.search.schemas import Mode
from kb.social import api as social_api
from kb.social import service as social
from kb.social.schemas import (
    AnswerCreate, CommentCreate, FeedbackCreate, FlagCreate, ModerationDecision, PromoteRequest,
    QuestionCreate, RatingSet, VoteSet,
)
from kb.web import render
from kb.web.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE, is_tls, new_token, same

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["quote"] = quote
templates.env.filters["document_html"] = render.document_html

# Messages shown after a redirect, chosen by key: no user text is ever reflected through the URL.
NOTICES = {
    "signed-out": "You are signed out.",
    "commented": "Your comment is posted.",
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
                return error_page(request, 422, "Some of what was sent is not valid: " + _describe(error))

        return page_handler


def _describe(error: RequestValidationError | ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("body", "query", "path", "form"))
        parts.append(f"{where or 'input'}: {item.get('msg', 'invalid')}")
    return "; ".join(parts)


router = APIRouter(include_in_schema=False, route_class=WebRoute)
SessionDep = Annotated[Session, Depends(get_session)]


@dataclass
class Viewer:
    """Who is looking: the actor (None when signed out), their web session, and what the navigation offers."""

    actor: Actor | None
    web_session: WebSession | None
    spaces: dict[int, str]

    @property
    def csrf(self) -> str:
        return self.web_session.csrf_token if self.web_session else ""

    def owns_any(self) -> bool:
        return bool(self.actor and any(r is SpaceRole.owner for r in self.actor.space_roles.values()))

    def writes_any(self) -> bool:
        return bool(self.actor and any(r in (SpaceRole.owner, SpaceRole.contributor) for r in self.actor.space_roles.values()))

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
    resolved = accounts.resolve_web_session(session, raw) if raw else None
    if resolved is None:
        return Viewer(None, None, {})
    actor, web_session = resolved
    spaces, _ = accounts.list_spaces(session, limit=1000, offset=0)
    return Viewer(actor, web_session, {s.id: s.slug for s in spaces})  # type: ignore[misc]


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


def _local(url: str | None, default: str = "/") -> str:
    """Only same-site paths are followed after sign-in or a form (no open redirect)."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return default


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", secure=is_tls(request.url.scheme), path="/")


# ------------------------------------------------------------------------------------ sign in

@router.get("/login")
def login_form(request: Request, who: ViewerDep, next: Annotated[str | None, Query(max_length=500)] = None) -> Response:  # noqa: A002
    token = new_token()
    response = page(request, "login.html", who, next=_local(next), csrf=token, error=None)
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, 3600)
    return response


@router.post("/login")
def login(request: Request, session: SessionDep, who: ViewerDep,
          username: Annotated[str, Form(max_length=64)], password: Annotated[str, Form(max_length=200)],
          csrf: Csrf = None, next: Annotated[str | None, Form(max_length=500)] = None) -> Response:  # noqa: A002
    if not same(csrf, request.cookies.get(LOGIN_CSRF_COOKIE)):
        raise KbError(ErrorCode.FORBIDDEN, "This form has expired: reload the sign-in page and try again")
    settings = request.app.state.settings
    try:
        user = accounts_api.check_login(request, session, username, password)  # the API's limits, the same code
        with transaction(session):
            _, raw = accounts.create_web_session(session, user=user, max_age_seconds=settings.session_max_age_seconds)
    except KbError as error:
        if error.code is not ErrorCode.INVALID_CREDENTIALS:
            raise
        response = page(request, "login.html", who, status_code=401, next=_local(next), csrf=csrf, error=error.message)
        return response
    response = RedirectResponse(_local(next), status_code=303)
    _set_cookie(request, response, SESSION_COOKIE, raw, settings.session_max_age_seconds)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, who: ViewerDep, csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    with transaction(session):
        accounts.end_web_session(session, actor=actor, web_session=who.web_session)  # type: ignore[arg-type]
    response = back("/login", "signed-out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# ------------------------------------------------------------------------------------- search

@router.get("/")
def home(request: Request, who: ViewerDep) -> Response:
    if who.actor is None:
        return RedirectResponse("/login", status_code=303)
    return page(request, "search.html", who, q="", results=None, experts=[], filters={}, spaces=sorted(who.spaces.values()))


@router.get("/search")
def search_page(
    request: Request, session: SessionDep, who: ViewerDep,
    q: Annotated[str, Query(max_length=search.MAX_QUERY_CHARS)] = "",
    space: Annotated[str, Query(max_length=64)] = "",
    tags: Annotated[str, Query(max_length=500)] = "",
    lang: Annotated[str, Query(max_length=16)] = "",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100)] = 1,
) -> Response:
    actor = signed_in(who)
    filters = {"space": space, "tags": tags, "lang": lang}
    if not q.strip():
        return page(request, "search.html", who, q="", results=None, experts=[], filters=filters,
                    spaces=sorted(who.spaces.values()))
    results = search_api.search(request, session, actor, q=q, mode=Mode.hybrid, space=space or None, tags=tags or None,
                                lang=lang or None, page=page_number, page_size=10)
    experts_found = []
    if results.total == 0:
        experts_found = experts.find_experts(session, request.app.state.search, actor=actor, query=q, exclude_me=True,
                                             limit=3, weights=request.app.state.settings.expert_weights)
    query_string = urlencode({k: v for k, v in {"q": q, **filters}.items() if v})
    return page(request, "search.html", who, q=q, results=results, experts=experts_found, filters=filters,
                spaces=sorted(who.spaces.values()), query_string=query_string, today=dt.date.today())


@router.post("/feedback")
def give_feedback(session: SessionDep, who: ViewerDep, document: Annotated[str, Form(max_length=120)],
                  helpful: Annotated[str, Form(pattern="^(yes|no)$")], csrf: Csrf = None,
                  query: Annotated[str, Form(max_length=500)] = "") -> Response:
    actor = checked(who, csrf)
    social_api.give_feedback(FeedbackCreate(document=document, query=query, helpful=helpful == "yes"), session, actor)
    return back("/search?" + urlencode({"q": query}) if query else "/", "feedback")


# ----------------------------------------------------------------------------------- document

def _timeline(history: list) -> list[tuple[dt.datetime, str, str]]:  # type: ignore[type-arg]
    """Every dated step of every version, newest first: (when, what, who)."""
    steps = []
    for v in history:
        steps.append((v.created_at, f"v{v.number} drafted", v.author))
        if v.submitted_at:
            steps.append((v.submitted_at, f"v{v.number} submitted for review", v.author))
        if v.approved_at:
            steps.append((v.approved_at, f"v{v.number} approved", v.approved_by or ""))
        if v.ended_at:
            steps.append((v.ended_at, f"v{v.number} {v.state.value}", ""))
        if v.rejection_reason:
            steps.append((v.created_at, f"v{v.number} rejected: {v.rejection_reason}", ""))
    return sorted(steps, key=lambda s: s[0], reverse=True)


@router.get("/d/{slug}")
def document_page(request: Request, session: SessionDep, who: ViewerDep, slug: Annotated[str, documents_api.DocSlugPath]) -> Response:
    actor = signed_in(who)
    document = documents_api.get_document(slug, session, actor)
    history = documents_api.list_versions(slug, session, actor).data
    comments = social_api.list_comments(slug, session, actor).data
    rating = social_api.get_rating(slug, session, actor)
    numbers = [v.number for v in history]
    return page(request, "document.html", who, document=document, history=history, timeline=_timeline(history),
                comments=comments, rating=rating, numbers=numbers)


@router.get("/d/{slug}/v/{number}")
def version_page(request: Request, session: SessionDep, who: ViewerDep, slug: Annotated[str, documents_api.DocSlugPath],
                 number: Annotated[int, documents_api.NumberPath]) -> Response:
    actor = signed_in(who)
    version = documents_api.get_version(slug, number, session, actor)
    document = documents_api.get_document(slug, session, actor)
    return page(request, "version.html", who, version=version, document=document)


@router.get("/d/{slug}/diff")
def diff_page(request: Request, session: SessionDep, who: ViewerDep, slug: Annotated[str, documents_api.DocSlugPath],
              from_version: Annotated[int, Query(alias="from", ge=1, le=1_000_000)],
              to_version: Annotated[int, Query(alias="to", ge=1, le=1_000_000)]) -> Response:
    actor = signed_in(who)
    text = documents.diff(session, actor=actor, slug=slug, from_number=from_version, to_number=to_version)
    return page(request, "diff.html", who, slug=slug, from_version=from_version, to_version=to_version,
                lines=render.diff_lines(text))


@router.get("/d/{slug}/prov")
def prov_download(session: SessionDep, who: ViewerDep, slug: Annotated[str, documents_api.DocSlugPath],
                  format: Annotated[str, Query(pattern="^(json|provn|xml|ttl)$")] = "json") -> Response:  # noqa: A002
    actor = signed_in(who)
    response = documents_api.export_provenance(slug, session, actor, format=format)  # type: ignore[arg-type]
    extension = {"json": "json", "provn": "provn", "xml": "xml", "ttl": "ttl"}[format]
    response.headers["Content-Disposition"] = f'attachment; filename="{slug}.prov.{extension}"'
    return response


@router.post("/d/{slug}/comments")
def post_comment(request: Request, session: SessionDep, who: ViewerDep, slug: Annotated[str, documents_api.DocSlugPath],
                 body_md: Annotated[str, Form(max_length=20_000)], csrf: Csrf = None,
                 parent_id: Annotated[int | None, Form(ge=1, le=MAX_ROW_ID)] = None) -> Response:
    actor = checked(who, csrf)
    social_api.create_comment(slug, CommentCreate(body_md=body_md, parent_id=parent_id), request, session, actor)
    return back(f"/d/{quote(slug)}#comments", "commented")


@router.post("/d/{slug}/rating")
def post_rating(session: SessionDep, who: ViewerDep, slug: Annotated[str, documents_api.DocSlugPath],
                stars: Annotated[int, Form(ge=1, le=5)], csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    social_api.set_rating(slug, RatingSet(stars=stars), session, actor)
    return back(f"/d/{quote(slug)}", "rated")


@router.post("/flags")
def post_flag(request: Request, session: SessionDep, who: ViewerDep,
              target: Annotated[str, Form(pattern="^(comment|question|answer|document)$")],
              target_id: Annotated[str, Form(max_length=120)], reason: Annotated[str, Form(max_length=20)],
              csrf: Csrf = None, note: Annotated[str, Form(max_length=1000)] = "",
              next: Annotated[str | None, Form(max_length=500)] = None) -> Response:  # noqa: A002
    actor = checked(who, csrf)
    social_api.create_flag(FlagCreate(target=target, target_id=target_id, reason=reason, note=note),  # type: ignore[arg-type]
                           request, session, actor)
    return back(_local(next), "flagged")


# ------------------------------------------------------------------------------ write / import

def _write_form(request: Request, who: Viewer, values: dict[str, Any], error: str | None = None, preview: str | None = None,
                status_code: int = 200) -> HTMLResponse:
    return page(request, "write.html", who, status_code=status_code, values=values, error=error, preview=preview,
                spaces=who.writable_spaces(), languages=["en", "nl", "de", "fr"])


FIELD_NAMES = ("space", "slug", "title", "body_md", "audience", "language", "tags", "intended_use", "licence",
               "valid_from", "valid_until", "review_by", "translation_of")


@router.get("/write")
def write_form(request: Request, session: SessionDep, who: ViewerDep,
               slug: Annotated[str | None, Query(max_length=120)] = None) -> Response:
    actor = signed_in(who)
    values: dict[str, Any] = {"audience": "internal", "language": "en", "licence": "internal use"}
    if slug:
        document = documents.get_document(session, slug)
        latest = documents.latest_version(session, document.id)  # type: ignore[arg-type]
        if not documents.can_see_working_versions(actor, document, latest):
            raise KbError(ErrorCode.FORBIDDEN, "Only the space's contributors and owners edit its documents")
        values = {"space": who.spaces.get(document.space_id, ""), "slug": slug, "title": latest.title,
                  "body_md": latest.body_md, "audience": latest.audience.value, "language": latest.language,
                  "tags": ", ".join(documents.tags_of(latest)), "intended_use": latest.intended_use or "",
                  "licence": latest.licence or "", "valid_from": latest.valid_from or "", "valid_until": latest.valid_until or "",
                  "review_by": latest.review_by or "", "existing": True}
    return _write_form(request, who, values)


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        raise KbError(ErrorCode.VALIDATION_ERROR, f"{value!r} is not a date (YYYY-MM-DD)") from None


async def _write_form_fields(request: Request) -> dict:
    """The write form's fields (read on the event loop; the route itself runs in the thread pool)."""
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() if name != "body_md" else str(form.get(name, "")) for name in FIELD_NAMES}
    values["existing"] = form.get("existing") == "1"
    values["csrf"], values["action"] = str(form.get("csrf", "")), str(form.get("action", "save"))
    return values


@router.post("/write")
def write(request: Request, session: SessionDep, who: ViewerDep,
          values: Annotated[dict, Depends(_write_form_fields)]) -> Response:
    actor = checked(who, values.pop("csrf"))
    action = values.pop("action")
    if action == "preview":
        return _write_form(request, who, values, preview=render.document_html(values["body_md"]))
    try:
        fields = dict(
            title=values["title"] or None, audience=Audience(values["audience"] or "internal"),
            language=values["language"] or "en", tags=[t for t in values["tags"].split(",") if t.strip()] or None,
            intended_use=values["intended_use"] or None, licence=values["licence"] or None,
            valid_from=_date(values["valid_from"]), valid_until=_date(values["valid_until"]), review_by=_date(values["review_by"]),
        )
        with transaction(session):
            if values["existing"]:
                version, _ = documents.save_draft(session, actor=actor, slug=values["slug"],
                                                  data=DraftSave(body_md=values["body_md"] or None, **fields))
                slug = values["slug"]
            else:
                data = DocumentCreate(slug=values["slug"], body_md=values["body_md"],
                                      translation_of=values["translation_of"] or None, **{**fields, "title": values["title"]})
                document, version = documents.create_document(session, actor=actor, space_slug=values["space"], data=data)
                slug = document.slug
            if action == "submit":
                documents.submit(session, actor=actor, slug=slug, number=version.number)
    except (KbError, ValidationError, ValueError) as error:
        message = error.message if isinstance(error, KbError) else (
            _describe(error) if isinstance(error, ValidationError) else str(error))
        status_code = error.code.status if isinstance(error, KbError) else 422
        return _write_form(request, who, values, error=message, status_code=status_code)
    return back(f"/d/{quote(slug)}", "submitted" if action == "submit" else "saved")


@router.get("/import")
def import_form(request: Request, who: ViewerDep) -> Response:
    signed_in(who)
    return page(request, "import.html", who, spaces=who.writable_spaces(), error=None)


@router.post("/import")
def import_file(
    request: Request, session: SessionDep, who: ViewerDep, response: Response,
    file: Annotated[UploadFile, File()], space: Annotated[str, Form(max_length=64)],
    csrf: Csrf = None,
    audience: Annotated[str, Form(pattern="^(internal|public)$")] = "internal",
    language: Annotated[str, Form(max_length=16)] = "",
    tags: Annotated[str, Form(max_length=1000)] = "",
    intended_use: Annotated[str, Form(max_length=2000)] = "",
    licence: Annotated[str, Form(max_length=200)] = "",
    valid_until: Annotated[str, Form(max_length=10)] = "",
    review_by: Annotated[str, Form(max_length=10)] = "",
    submit: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    actor = checked(who, csrf)
    try:
        result = documents_api.import_document(
            space, request, session, actor, response, file, slug=None, title=None, audience=Audience(audience),
            language=language or None, tags=tags or None, intended_use=intended_use or None, licence=licence or None,
            valid_from=None, valid_until=_date(valid_until), review_by=_date(review_by), translation_of=None)
        if submit == "yes":
            documents_api.submit(result.document.slug, result.version, documents_api.SubmitRequest(), session, actor)
    except KbError as error:
        return page(request, "import.html", who, status_code=error.code.status, spaces=who.writable_spaces(),
                    error=error.message)
    done = "submitted" if submit == "yes" else "imported"
    return back(f"/d/{quote(result.document.slug)}/v/{result.version}", done)


@router.post("/d/{slug}/v/{number}/submit")
def submit_version(session: SessionDep, who: ViewerDep, slug: Annotated[str, documents_api.DocSlugPath],
                   number: Annotated[int, documents_api.NumberPath], csrf: Csrf = None,
                   intended_use: Annotated[str, Form(max_length=2000)] = "") -> Response:
    actor = checked(who, csrf)
    documents_api.submit(slug, number, documents_api.SubmitRequest(intended_use=intended_use or None), session, actor)
    return back(f"/d/{quote(slug)}/v/{number}", "submitted")


# -------------------------------------------------------------------------------------- review

@router.get("/review")
def review_queue(request: Request, session: SessionDep, who: ViewerDep) -> Response:
    actor = signed_in(who)
    items = documents.review_queue(session, actor=actor)
    groups: dict[str, list] = {"in_review": [], "reported": [], "overdue": [], "expiring": []}  # type: ignore[type-arg]
    for item in items:
        key = ("in_review" if item.reason == "in_review" else "reported" if item.reason.startswith("reported")
               else "overdue" if item.reason == "review_overdue" else "expiring")
        groups[key].append(item)
    return page(request, "review.html", who, groups=groups, owner=who.owns_any())


@router.get("/review/{slug}/{number}")
def review_item(request: Request, session: SessionDep, who: ViewerDep, slug: Annotated[str, documents_api.DocSlugPath],
                number: Annotated[int, documents_api.NumberPath]) -> Response:
    actor = signed_in(who)
    version = documents_api.get_version(slug, number, session, actor)
    document = documents_api.get_document(slug, session, actor)
    lines = []
    if document.current and document.current.number != number:
        lines = render.diff_lines(documents.diff(session, actor=actor, slug=slug, from_number=document.current.number,
                                                 to_number=number))
    return page(request, "review_item.html", who, version=version, document=document, lines=lines)


@router.post("/review/{slug}/{number}/{decision}")
def decide(session: SessionDep, who: ViewerDep, slug: Annotated[str, documents_api.DocSlugPath],
           number: Annotated[int, documents_api.NumberPath], decision: Annotated[str, PathParam(pattern="^(approve|reject)$")],
           csrf: Csrf = None, comment: Annotated[str, Form(max_length=2000)] = "") -> Response:
    actor = checked(who, csrf)
    if decision == "approve":
        documents_api.approve(slug, number, documents_api.ApproveRequest(comment=comment or None), session, actor)
        return back(f"/d/{quote(slug)}", "approved")
    if not comment.strip():
        raise KbError(ErrorCode.VALIDATION_ERROR, "Say why you reject it: the author gets your reason")
    documents_api.reject(slug, number, documents_api.ReasonRequest(reason=comment), session, actor)
    return back("/review", "rejected")


# ----------------------------------------------------------------------------------- questions

QUESTIONS_PER_PAGE = 20


@router.get("/questions")
def questions_page(request: Request, session: SessionDep, who: ViewerDep,
                   page_number: Annotated[int, Query(alias="page", ge=1, le=1000)] = 1) -> Response:
    actor = signed_in(who)
    pager = Page(limit=QUESTIONS_PER_PAGE, offset=(page_number - 1) * QUESTIONS_PER_PAGE)
    unanswered = social_api.list_questions(session, actor, pager, unanswered=True)
    recent, counts, answered = social.list_questions(session, unanswered=False, answered=True,
                                                     limit=pager.limit, offset=pager.offset)
    scores = social.scores(session, "question", [q.id for q in recent])  # type: ignore[misc]
    more = max(unanswered.count, answered) > page_number * QUESTIONS_PER_PAGE
    return page(request, "questions.html", who, unanswered=unanswered.data, recent=recent, counts=counts, scores=scores,
                page_number=page_number, more=more)


@router.get("/questions/ask")
def ask_form(request: Request, who: ViewerDep, q: Annotated[str, Query(max_length=300)] = "") -> Response:
    signed_in(who)
    return page(request, "ask.html", who, values={"title": q, "body_md": "", "tags": "", "space": ""},
                spaces=sorted(who.spaces.values()), error=None)


@router.post("/questions")
def ask(request: Request, session: SessionDep, who: ViewerDep, title: Annotated[str, Form(max_length=300)],
        body_md: Annotated[str, Form(max_length=20_000)], csrf: Csrf = None,
        tags: Annotated[str, Form(max_length=500)] = "", space: Annotated[str, Form(max_length=64)] = "") -> Response:
    actor = checked(who, csrf)
    values = {"title": title, "body_md": body_md, "tags": tags, "space": space}
    try:
        data = QuestionCreate(title=title, body_md=body_md, tags=[t.strip() for t in tags.split(",") if t.strip()],
                              space=space or None)
        question = social_api.ask(data, request, session, actor)
    except (KbError, ValidationError) as error:
        message = error.message if isinstance(error, KbError) else _describe(error)
        status_code = error.code.status if isinstance(error, KbError) else 422
        return page(request, "ask.html", who, status_code=status_code, values=values, spaces=sorted(who.spaces.values()),
                    error=message)
    return back(f"/questions/{question.id}", "asked")


@router.get("/questions/{question_id}")
def question_page(request: Request, session: SessionDep, who: ViewerDep,
                  question_id: Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)]) -> Response:
    actor = signed_in(who)
    question = social_api.get_question(question_id, session, actor)
    suggested = []
    if not question.answers:
        suggested = experts_api.suggest_for_question(question_id, request, session, actor).data
    can_accept = social.may_accept(actor, social.get_question(session, actor=actor, question_id=question_id))
    return page(request, "question.html", who, question=question, suggested=suggested, can_accept=can_accept,
                owned=who.owned_spaces())


@router.post("/questions/{question_id}/answers")
def post_answer(request: Request, session: SessionDep, who: ViewerDep,
                question_id: Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)],
                body_md: Annotated[str, Form(max_length=20_000)], csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    social_api.answer(question_id, AnswerCreate(body_md=body_md), request, session, actor)
    return back(f"/questions/{question_id}", "answered")


@router.post("/votes/{kind}/{post_id}")
def post_vote(session: SessionDep, who: ViewerDep, kind: Annotated[str, PathParam(pattern="^(questions|answers)$")],
              post_id: Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)], value: Annotated[int, Form(ge=-1, le=1)],
              question: Annotated[int, Form(ge=1, le=MAX_ROW_ID)], csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    social_api.vote(kind, post_id, VoteSet(value=value), session, actor)  # type: ignore[arg-type]
    return back(f"/questions/{question}", "voted")


@router.post("/questions/{question_id}/accept")
def post_accept(session: SessionDep, who: ViewerDep, question_id: Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)],
                answer_id: Annotated[int, Form(ge=1, le=MAX_ROW_ID)], csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    social_api.accept(question_id, social_api.AcceptRequest(answer_id=answer_id), session, actor)
    return back(f"/questions/{question_id}", "accepted")


@router.post("/questions/{question_id}/promote")
def post_promote(session: SessionDep, who: ViewerDep, question_id: Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)],
                 space: Annotated[str, Form(max_length=64)], slug: Annotated[str, Form(max_length=120)],
                 csrf: Csrf = None, audience: Annotated[str, Form(pattern="^(internal|public)$")] = "internal") -> Response:
    actor = checked(who, csrf)
    result = social_api.promote(question_id, PromoteRequest(space=space, slug=slug, audience=audience), session, actor)  # type: ignore[arg-type]
    return back(f"/d/{quote(str(result['document']))}", "promoted")


# ------------------------------------------------------------------------------------- experts

@router.get("/experts")
def experts_page(request: Request, session: SessionDep, who: ViewerDep,
                 q: Annotated[str, Query(max_length=500)] = "") -> Response:
    actor = signed_in(who)
    hits = []
    if q.strip():
        hits = experts.find_experts(session, request.app.state.search, actor=actor, query=q, limit=10,
                                    weights=request.app.state.settings.expert_weights)
    return page(request, "experts.html", who, q=q, hits=hits)


@router.get("/people/{username}")
def person_page(request: Request, session: SessionDep, who: ViewerDep, username: Annotated[str, PathParam(max_length=64)]) -> Response:
    actor = signed_in(who)
    profile = experts.expert_profile(session, username=username)
    inbox = []
    if username == actor.username:
        inbox = experts_api.my_inbox(session, actor).data
    return page(request, "person.html", who, profile=profile, me=username == actor.username, inbox=inbox)


@router.post("/people/{username}/ask")
def ask_person(request: Request, session: SessionDep, who: ViewerDep, username: Annotated[str, PathParam(max_length=64)],
               message: Annotated[str, Form(max_length=2000)], csrf: Csrf = None,
               question_id: Annotated[int | None, Form(ge=1, le=MAX_ROW_ID)] = None) -> Response:
    actor = checked(who, csrf)
    experts_api.ask(username, AskExpert(question_id=question_id, message=message), request, session, actor)
    return back(f"/people/{quote(username)}", "asked-expert")


@router.post("/me/profile")
def save_profile(session: SessionDep, who: ViewerDep, skills: Annotated[str, Form(max_length=1000)] = "",
                 opted_out: Annotated[str, Form(max_length=3)] = "", csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    # The API's route and its checks (at most 30 skills of 60 characters): a bad list is a 422 page.
    experts_api.update_expertise(ProfileUpdate(declared_skills=[s for s in skills.split(",") if s.strip()],
                                               opted_out=opted_out == "yes"), session, actor)
    return back(f"/people/{quote(actor.username)}", "profile")


# ---------------------------------------------------------------------------------- moderation

@router.get("/moderation")
def moderation_page(request: Request, session: SessionDep, who: ViewerDep) -> Response:
    actor = signed_in(who)
    if not actor.is_moderator:
        raise KbError(ErrorCode.FORBIDDEN, "The moderation queue is for moderators")
    flags = social_api.moderation_queue(session, actor).data
    return page(request, "moderation.html", who, flags=flags)


@router.post("/moderation/{kind}/{target_id}")
def moderate(session: SessionDep, who: ViewerDep, kind: Annotated[str, PathParam(pattern="^(comment|question|answer|document)$")],
             target_id: Annotated[str, PathParam(max_length=120)], action: Annotated[str, Form(pattern="^(hide|restore|dismiss)$")],
             reason: Annotated[str, Form(max_length=1000)], csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    if not actor.is_moderator:
        raise KbError(ErrorCode.FORBIDDEN, "Moderation is for moderators")
    social_api.moderate(kind, target_id, ModerationDecision(action=action, reason=reason), session, actor)  # type: ignore[arg-type]
    return back("/moderation", "moderated")


# --------------------------------------------------------------------------------------- audit

@router.get("/audit")
def audit_page(request: Request, session: SessionDep, who: ViewerDep,
               action: Annotated[str, Query(max_length=64)] = "", by: Annotated[str, Query(max_length=64)] = "",
               object_id: Annotated[str, Query(max_length=200)] = "",
               after_seq: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0, verify: Annotated[int, Query(ge=0, le=1)] = 0) -> Response:
    actor = signed_in(who)
    if not actor.is_admin:
        raise KbError(ErrorCode.FORBIDDEN, "The audit log is for admins")
    events = audit_api.list_audit_events(session, actor, after_seq=after_seq, limit=50, action=action or None,
                                         object_type=None, object_id=object_id or None, by=by or None)
    status = audit_api.verify_audit_chain(session, actor) if verify else None
    filters = {"action": action, "by": by, "object_id": object_id}
    next_link = "/audit?" + urlencode({**{k: v for k, v in filters.items() if v}, "after_seq": events.next_after_seq}) if events.next_after_seq else None
    return page(request, "audit.html", who, events=events.data, status=status, filters=filters, next_link=next_link)


# ------------------------------------------------------------------------------------ insights

@router.get("/insights")
def insights_page(request: Request, session: SessionDep, who: ViewerDep,
                  days: Annotated[int, Query(ge=7, le=365)] = 30) -> Response:
    actor = signed_in(who)
    if not (actor.is_admin or who.owns_any()):
        raise KbError(ErrorCode.FORBIDDEN, "Insights are for space owners and admins")
    since = dt.datetime.combine(utcnow().date() - dt.timedelta(days=days - 1), dt.time(), tzinfo=dt.UTC)
    volume = search.query_volume(session, days=days)
    searches = sum(total for _, total, _ in volume)
    zero = sum(z for _, _, z in volume)
    top_gaps = search.query_insights(session, days=days, top=10)
    gap_counts: dict[str, int] = {}
    for day in top_gaps:
        for item in day.top_zero_result_queries:
            gap_counts[item.query] = gap_counts.get(item.query, 0) + item.count
    helpful, feedback = social.helpfulness(session, since=since)
    questions = social.question_figures(session, since=since)
    overdue = documents.overdue_by_space(session)
    lead = documents.approval_lead_times(session, since=since)
    lead_by_space: dict[str, list[float]] = {}
    for space, hours in lead:
        lead_by_space.setdefault(space, []).append(hours)
    charts = {
        "volume": render.bars([(d.strftime("%d %b"), total) for d, total, _ in volume]),
        "zero_rate": render.bars([(d.strftime("%d %b"), round(100 * z / total, 1) if total else 0) for d, total, z in volume], "%"),
        "questions": render.bars([(w.strftime("%d %b"), asked) for w, asked, _ in questions.per_week]),
        "answered": render.bars([(w.strftime("%d %b"), answered) for w, _, answered in questions.per_week]),
        "overdue": render.bars([(space, n) for space, _, n in overdue]),
        "lead": render.bars([(space, round(social.median(h) or 0, 1)) for space, h in sorted(lead_by_space.items())], "h"),
    }
    figures = {
        "searches": searches, "zero_rate": round(100 * zero / searches, 1) if searches else None,
        "helpful_rate": round(100 * helpful / feedback, 1) if feedback else None, "feedback": feedback,
        "asked": questions.asked, "answered": questions.answered, "accepted": questions.accepted,
        "median_hours": round(questions.median_hours_to_answer, 1) if questions.median_hours_to_answer is not None else None,
        "overdue": sum(n for *_, n in overdue), "approved": sum(t for _, t, _ in overdue),
        "lead_median": round(social.median([h for _, h in lead]) or 0, 1) if lead else None, "approvals": len(lead),
    }
    gaps = sorted(gap_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    return page(request, "insights.html", who, days=days, charts=charts, figures=figures, gaps=gaps, overdue=overdue)


# -------------------------------------------------------------------------------------- public

PUBLIC_LANGUAGES = {"en": "English", "nl": "Nederlands"}
# The public pages' words, per language, in a message catalogue (kb/web/messages/<lang>.json).
MESSAGES = {code: json.loads((HERE / "messages" / f"{code}.json").read_text(encoding="utf-8")) for code in PUBLIC_LANGUAGES}


@router.get("/public")
def public_page(request: Request, session: SessionDep,
                q: Annotated[str, Query(max_length=search.MAX_QUERY_CHARS)] = "",
                lang: Annotated[str, Query(pattern="^(|en|nl)$")] = "") -> Response:
    """The citizens' search. Without a chosen language the query's own language (detected) or the browser's
    Accept-Language decides which translation answers and which words label the page."""
    results = None
    language = lang or _accepted(request) or "en"
    if q.strip():
        response = Response()
        results = search_api.public_search(request, response, session, None, q=q, lang=lang or None, page=1, page_size=10,
                                           accept_language=request.headers.get("accept-language"))
        if not lang and results.labels_language in MESSAGES:
            language = results.labels_language
    html = page(request, "public.html", None, q=q, lang=language, chosen=lang, languages=PUBLIC_LANGUAGES,
                results=results, t=MESSAGES[language])
    html.headers["Cache-Control"] = "no-store" if q else "public, max-age=60"
    html.headers["Vary"] = "Accept-Language"
    return html


def _accepted(request: Request) -> str | None:
    """The first language of Accept-Language that the public pages speak."""
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip()[:2].lower()
        if code in MESSAGES:
            return code
    return None


@router.get("/public/d/{slug}")
def public_document_page(request: Request, session: SessionDep, slug: Annotated[str, documents_api.DocSlugPath],
                         lang: Annotated[str, Query(pattern="^(|en|nl)$")] = "") -> Response:
    # A page's address names that page: only an explicit lang= swaps it for a translation. The words
    # around it follow lang= or else the browser's Accept-Language.
    document = search.public_document(session, slug, lang or None)
    language = lang or _accepted(request) or "en"
    return page(request, "public_document.html", None, document=document, lang=language, languages=PUBLIC_LANGUAGES,
                t=MESSAGES[language])

