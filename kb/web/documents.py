"""Web pages of curated documents: reading, writing, importing, reviewing."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from kb.db import transaction
from kb.documents import api as documents_api
from kb.documents import actions
from kb.documents import service as documents
from kb.documents.models import Audience
from kb.documents.schemas import DocumentCreate, DraftSave
from kb.errors import ErrorCode, KbError
from kb.social import api as social_api
from kb.web import render
from kb.web.common import (
    Csrf,
    SessionDep,
    Viewer,
    ViewerDep,
    WebRoute,
    back,
    checked,
    describe_invalid,
    page,
    signed_in,
)

router = APIRouter(include_in_schema=False, route_class=WebRoute)


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
            describe_invalid(error) if isinstance(error, ValidationError) else str(error))
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
        actions.approve(session, actor, slug=slug, number=number, comment=comment or None)
        return back(f"/d/{quote(slug)}", "approved")
    if not comment.strip():
        raise KbError(ErrorCode.VALIDATION_ERROR, "Say why you reject it: the author gets your reason")
    documents_api.reject(slug, number, documents_api.ReasonRequest(reason=comment), session, actor)
    return back("/review", "rejected")
