"""Web pages of curated documents: reading, writing, importing, reviewing.

Each page reads its form or path, calls the actions of ``kb.documents.actions`` (and, for the
community part of a document page, ``kb.social.actions``) and renders what they return; the
actions decide who may do what. Never imports an ``api`` module or a service, never opens a
transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from kb.db import MAX_ROW_ID
from kb.documents import actions, bulk
from kb.documents.ingest_docx import MAX_UPLOAD_BYTES, SUPPORTED_SUFFIXES
from kb.documents.models import Audience
from kb.documents.schemas import CLEARABLE, DocumentCreate, DraftSave, ReasonRequest, ReviewItem, VersionSummary, import_fields
from kb.encoding_first import EncodingFirst
from kb.errors import ErrorCode, KbError
from kb.notifications import actions as notifications
from kb.notifications.models import WatchKind
from kb.search import actions as search
from kb.social import actions as social
from kb.web import render
from kb.web.forms import refusal
from kb.web.taxonomy import concept_choices, reader_language
from kb.web.common import page_router, Csrf, SessionDep, Viewer, ViewerDep, back, checked, page
from kb.web.common import signed_in

router = page_router()

DocSlugPath = Annotated[str, Path(max_length=120)]
NumberPath = Annotated[int, Path(ge=1, le=1_000_000)]


# ----------------------------------------------------------------------------------- document

@router.get("/d/{slug}")
def document_page(request: Request, session: SessionDep, who: ViewerDep, slug: DocSlugPath) -> Response:
    actor = signed_in(who)
    document = actions.read_document(session, actor, slug=slug, indexed_up_to=request.app.state.search.last_seq)
    history = actions.document_history(session, actor, slug=slug).data
    comments = social.list_comments(session, actor, slug=slug,
                                    rules=social.Rules.of(request.app.state.settings, request.app.state.rate_limiter))
    rating = social.get_rating(session, actor, slug=slug)
    watching = {"document": notifications.is_watching(session, actor, kind=WatchKind.document, target=document.slug),
                "space": notifications.is_watching(session, actor, kind=WatchKind.space, target=document.space)}
    return page(request, "document.html", who, document=document, history=history, timeline=actions.timeline(history),
                comments=comments.data, comments_public=comments.public_since is not None, rating=rating,
                watching=watching)


@router.get("/d/{slug}/v/{number}")
def version_page(request: Request, session: SessionDep, who: ViewerDep, slug: DocSlugPath, number: NumberPath) -> Response:
    actor = signed_in(who)
    version = actions.read_version(session, actor, slug=slug, number=number)
    document = actions.read_document(session, actor, slug=slug)
    return page(request, "version.html", who, version=version, document=document)


@router.get("/d/{slug}/v/{number}/file")
def file_download(request: Request, session: SessionDep, who: ViewerDep, slug: DocSlugPath, number: NumberPath) -> Response:
    actor = signed_in(who)
    original = actions.original_file(session, actor, slug=slug, number=number,
                                     files_dir=request.app.state.settings.files_dir)
    return Response(original.content, media_type=original.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{original.filename}"'})


@router.get("/d/{slug}/diff")
def diff_page(request: Request, session: SessionDep, who: ViewerDep, slug: DocSlugPath,
              from_version: Annotated[int, Query(alias="from", ge=1, le=1_000_000)],
              to_version: Annotated[int, Query(alias="to", ge=1, le=1_000_000)]) -> Response:
    actor = signed_in(who)
    diff = actions.diff_versions(session, actor, slug=slug, from_number=from_version, to_number=to_version)
    return page(request, "diff.html", who, slug=slug, from_version=from_version, to_version=to_version,
                lines=render.diff_lines(diff.diff))


@router.get("/d/{slug}/prov")
def prov_download(session: SessionDep, who: ViewerDep, slug: DocSlugPath,
                  format: Annotated[actions.ProvFormat, Query()] = "json") -> Response:  # noqa: A002
    actor = signed_in(who)
    text, media_type = actions.export_provenance(session, actor, slug=slug, format=format)
    return Response(text, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{slug}.prov.{format}"'})


# ------------------------------------------------------------------------------ write / import

def _choices(request: Request, session: SessionDep, who: Viewer):  # noqa: ANN202 - kb.web.taxonomy.ConceptChoices
    """The concepts and tag suggestions the form offers, labels in the writer's language (issue 20)."""
    return concept_choices(session, signed_in(who), reader_language(request))


def _write_form(request: Request, session: SessionDep, who: Viewer, values: dict[str, Any], error: str | None = None,
                preview: str | None = None, status_code: int = 200, errors: dict[str, str] | None = None) -> HTMLResponse:
    return page(request, "write.html", who, status_code=status_code, values=values, error=error, preview=preview,
                spaces=who.writable_spaces(), languages=["en", "nl", "de", "fr", "es"], errors=errors or {},
                choices=_choices(request, session, who))


FIELD_NAMES = ("space", "slug", "title", "body_md", "audience", "language", "tags", "intended_use", "licence",
               "valid_from", "valid_until", "review_by", "source_uri", "translation_of")
CONCEPT_FIELDS = ("applies_to", "topic", "region")
"""The version's concept fields: checkboxes of concept references (``situation:student``), several per field."""


def _concepts(form: Any) -> dict[str, Any]:
    """The concept fields of a posted form: a list of references each, and whether the form showed the pickers
    (then an empty list clears the field; without them the field is left as it is)."""
    shown = form.get("concepts_shown") == "1"
    return {"concepts_shown": shown, **{name: [str(v) for v in form.getlist(name)][:100] for name in CONCEPT_FIELDS}}


@router.get("/write")
def write_form(request: Request, session: SessionDep, who: ViewerDep,
               slug: Annotated[str | None, Query(max_length=120)] = None) -> Response:
    actor = signed_in(who)
    values: dict[str, Any] = {"audience": "internal", "language": "en", "licence": "internal use"}
    if slug:
        # The form is filled from the public shape of the newest version: the tables hold the enums
        # as plain strings (reading ``audience.value`` off the row was a 500 for every edit link).
        latest = actions.version_to_edit(session, actor, slug=slug)
        card = latest.provenance
        values = {"space": card.space, "slug": latest.document, "title": latest.title, "body_md": latest.body_md,
                  "audience": card.audience.value, "language": card.language, "tags": ", ".join(latest.tags),
                  "intended_use": card.intended_use or "", "licence": card.licence or "",
                  "valid_from": card.valid_from or "", "valid_until": card.valid_until or "",
                  "review_by": card.review_by or "", "existing": True,
                  **{name: [c.ref for c in getattr(card, name)] for name in CONCEPT_FIELDS},
                  # a web source only: a promoted answer's kb: reference is kb's own, not the writer's to edit
                  "source_uri": card.source_uri if (card.source_uri or "").lower().startswith(("http://", "https://")) else ""}
    return _write_form(request, session, who, values)


def _date(value: str, field: str = "") -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        raise KbError(ErrorCode.VALIDATION_ERROR, f"{value!r} is not a date (YYYY-MM-DD)",
                      details=[{"loc": ["form", field], "msg": "not a date", "type": "date_from_datetime_parsing"}]) from None


async def _write_form_fields(request: Request) -> dict:  # type: ignore[type-arg]
    """The write form's fields (read on the event loop; the route itself runs in the thread pool)."""
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() if name != "body_md" else str(form.get(name, "")) for name in FIELD_NAMES}
    values["existing"] = form.get("existing") == "1"
    values.update(_concepts(form))
    values["csrf"], values["action"] = str(form.get("csrf", "")), str(form.get("action", "save"))
    return values


@router.post("/write")
def write(request: Request, session: SessionDep, who: ViewerDep,
          values: Annotated[dict, Depends(_write_form_fields)]) -> Response:  # type: ignore[type-arg]
    actor = checked(who, values.pop("csrf"))
    action = values.pop("action")
    if action == "preview":
        return _write_form(request, session, who, values, preview=render.document_html(values["body_md"]))
    submit = action == "submit"
    try:
        fields = dict(
            title=values["title"] or None, audience=Audience(values["audience"] or "internal"),
            language=values["language"] or "en", tags=[t for t in values["tags"].split(",") if t.strip()] or None,
            intended_use=values["intended_use"] or None, licence=values["licence"] or None,
            valid_from=_date(values["valid_from"], "valid_from"), valid_until=_date(values["valid_until"], "valid_until"),
            review_by=_date(values["review_by"], "review_by"),
            source_uri=values["source_uri"] or None,
            **{name: values[name] if values["concepts_shown"] else None for name in CONCEPT_FIELDS},
        )
        if values["existing"]:
            slug = values["slug"]
            # The form shows every field's value: one emptied is cleared (it said "saved" and kept the old value).
            emptied = [name for name in CLEARABLE if fields[name] is None]
            actions.save_draft(session, actor, slug=slug, data=DraftSave(body_md=values["body_md"] or None, clear=emptied,
                                                                         **fields), submit=submit)
        else:
            data = DocumentCreate(slug=values["slug"], body_md=values["body_md"],
                                  translation_of=values["translation_of"] or None, **{**fields, "title": values["title"]})
            slug = actions.create_document(session, actor, space=values["space"], data=data, submit=submit).slug
    except (KbError, ValidationError, ValueError) as error:
        status_code, message, errors = refusal(error, FIELD_NAMES)
        return _write_form(request, session, who, values, error=message, status_code=status_code, errors=errors)
    return back(f"/d/{quote(slug)}", "submitted" if submit else "saved")


IMPORT_FIELDS = ("file", "space", "audience", "language", "tags", "intended_use", "licence", "valid_until", "review_by")


def _import_form(request: Request, session: SessionDep, who: Viewer, values: dict[str, Any], status_code: int = 200,
                 error: str | None = None, errors: dict[str, str] | None = None) -> HTMLResponse:
    return page(request, "import.html", who, status_code=status_code, spaces=who.writable_spaces(), values=values,
                error=error, errors=errors or {}, choices=_choices(request, session, who))


@router.get("/import")
def import_form(request: Request, session: SessionDep, who: ViewerDep,
                space: Annotated[str, Query(max_length=64)] = "") -> Response:
    signed_in(who)
    return _import_form(request, session, who, {"space": space, "audience": "internal"})


Concepts = Annotated[list[str], Form(max_length=100)]
"""A concept field of an import form: the checked references."""
FORM_TEXT_CAP = 20_000
"""An import form's text field is read whole up to this, well above any field's own limit, so that the schema
says at the field what is too long and the page keeps the other fields (a field over a tight cap here was
refused before the form was read, with the generic error page)."""
FormText = Annotated[str, Form(max_length=FORM_TEXT_CAP)]


def _import_form_fields(
    space: FormText,
    audience: Annotated[str, Form(pattern="^(internal|public)$")] = "internal",
    language: FormText = "",
    tags: FormText = "",
    intended_use: FormText = "",
    licence: FormText = "",
    valid_until: FormText = "",
    review_by: FormText = "",
    submit: Annotated[str, Form(max_length=3)] = "",
    applies_to: Concepts = [], topic: Concepts = [], region: Concepts = [],  # noqa: B006 - FastAPI copies defaults
) -> dict[str, Any]:
    """The fields the import and the bulk import forms share, as typed (a refused form shows them again)."""
    return {"space": space, "audience": audience, "language": language, "tags": tags, "intended_use": intended_use,
            "licence": licence, "valid_until": valid_until, "review_by": review_by, "submit": submit,
            "applies_to": applies_to, "topic": topic, "region": region}


ImportFormDep = Annotated[dict[str, Any], Depends(_import_form_fields)]


def _provenance_of(values: dict[str, Any]) -> DraftSave:
    """An import form's provenance fields, checked (``import_fields``; a date at its field)."""
    return import_fields(audience=Audience(values["audience"]), language=values["language"] or None,
                         tags=values["tags"] or None, intended_use=values["intended_use"] or None,
                         licence=values["licence"] or None, valid_until=_date(values["valid_until"], "valid_until"),
                         review_by=_date(values["review_by"], "review_by"), applies_to=",".join(values["applies_to"]),
                         topic=",".join(values["topic"]), region=",".join(values["region"]))


@router.post("/import")
def import_file(
    request: Request, session: SessionDep, who: ViewerDep,
    file: Annotated[UploadFile, File()], typed: ImportFormDep, csrf: Csrf = None,
) -> Response:
    actor = checked(who, csrf)
    values = {**typed, "filename": file.filename or ""}
    try:
        fields = _provenance_of(values)
        result = actions.import_document(
            session, actor, space=values["space"], filename=file.filename or "upload", data=file.file.read(MAX_UPLOAD_BYTES + 1),
            files_dir=request.app.state.settings.files_dir, fields=fields, submit=values["submit"] == "yes")
    except KbError as error:
        # The chosen space and fields come back; a browser never re-sends a file, so the page says to choose it again.
        status_code, message, errors = refusal(error, IMPORT_FIELDS)
        return _import_form(request, session, who, values, status_code=status_code, error=message, errors=errors)
    # The page says what happened: the same bytes again are "unchanged" (nothing submitted), as the API and CLI say.
    done = "unchanged" if result.outcome == "unchanged" else "submitted" if values["submit"] == "yes" else "imported"
    return back(f"/d/{quote(result.document.slug)}/v/{result.version}", done)


BULK_FIELDS = ("file", "space", "audience", "language", "tags", "intended_use", "licence", "valid_until", "review_by")


def _bulk_form(request: Request, session: SessionDep, who: Viewer, values: dict[str, Any], status_code: int = 200,
               error: str | None = None, errors: dict[str, str] | None = None, report: Any = None) -> HTMLResponse:
    return page(request, "import_bulk.html", who, status_code=status_code, spaces=who.writable_spaces(), values=values,
                error=error, errors=errors or {}, report=report, suffixes=SUPPORTED_SUFFIXES,
                max_mb=request.app.state.settings.max_bulk_import_bytes / 2**20, choices=_choices(request, session, who))


@router.get("/import/bulk")
def bulk_import_form(request: Request, session: SessionDep, who: ViewerDep,
                     space: Annotated[str, Query(max_length=64)] = "") -> Response:
    signed_in(who)
    return _bulk_form(request, session, who, {"space": space, "audience": "internal"})


@router.post("/import/bulk")
def bulk_import(
    request: Request, session: SessionDep, who: ViewerDep,
    file: Annotated[UploadFile, File()], typed: ImportFormDep, csrf: Csrf = None,
) -> Response:
    """A zip of files (issue 19): the same use case as ``kb import DIR|ZIP`` and the API's bulk import; the
    page shows what was imported and every refused file with its reason."""
    actor = checked(who, csrf)
    settings = request.app.state.settings
    values = {**typed, "filename": file.filename or ""}
    try:
        fields = _provenance_of(values)
        report = actions.bulk_import(session, actor, space=values["space"], open_batch=lambda: bulk.open_zip(file.file),
                                     files_dir=settings.files_dir, fields=fields, submit=values["submit"] == "yes",
                                     workers=settings.import_workers or None, encoding_first=EncodingFirst.of(settings))
    except KbError as error:
        status_code, message, errors = refusal(error, BULK_FIELDS)
        return _bulk_form(request, session, who, values, status_code=status_code, error=message, errors=errors)
    return _bulk_form(request, session, who, values, report=report)


@router.post("/d/{slug}/v/{number}/submit")
def submit_version(session: SessionDep, who: ViewerDep, slug: DocSlugPath, number: NumberPath, csrf: Csrf = None,
                   intended_use: Annotated[str, Form(max_length=2000)] = "") -> Response:
    actor = checked(who, csrf)
    actions.submit_version(session, actor, slug=slug, number=number, intended_use=intended_use.strip() or None)
    return back(f"/d/{quote(slug)}/v/{number}", "submitted")


# -------------------------------------------------------------------------------------- review

@router.get("/review")
def review_queue(request: Request, session: SessionDep, who: ViewerDep) -> Response:
    # Owners only, as on the API and the CLI (issue 15: refused alike on every surface); the
    # navigation offers the page to owners alone.
    actor = signed_in(who)
    items = actions.review_queue(session, actor).data
    groups: dict[str, list[ReviewItem]] = {"in_review": [], "reported": [], "overdue": [], "expiring": []}
    for item in items:
        key = ("in_review" if item.reason == "in_review" else "reported" if item.reason.startswith("reported")
               else "overdue" if item.reason == "review_overdue" else "expiring")
        groups[key].append(item)
    # Content gaps (issue 20) are the taxonomy's, not a space's: every owner sees them (search's insights.read).
    gaps = search.situation_insights(session, actor).gaps
    return page(request, "review.html", who, groups=groups, gaps=gaps)


@router.post("/review/reports/{report_id}/dismiss")
def dismiss_report(session: SessionDep, who: ViewerDep, report_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)],
                   reason: Annotated[str, Form(max_length=2000)] = "", csrf: Csrf = None) -> Response:
    """An owner closes a reader's report as unfounded, from the review queue (the same rule as the API's)."""
    actor = checked(who, csrf)
    try:
        actions.dismiss_report(session, actor, report_id=report_id, reason=ReasonRequest(reason=reason).reason)
    except KbError as error:
        if (error.details or {}).get("rule") != "report_closed":
            raise
        return back("/review", "report_closed")  # a second click, or another owner first: the queue says so
    return back("/review", "report_dismissed")


@router.get("/review/{slug}/{number}")
def review_item(request: Request, session: SessionDep, who: ViewerDep, slug: DocSlugPath, number: NumberPath) -> Response:
    review = actions.review_version(session, signed_in(who), slug=slug, number=number)
    changes = review.changes
    return page(request, "review_item.html", who, review=review, version=review.version,
                lines=render.diff_lines(changes.body_diff) if changes else [])


@router.post("/review/{slug}/{number}/{decision}")
def decide(session: SessionDep, who: ViewerDep, slug: DocSlugPath, number: NumberPath,
           decision: Annotated[str, Path(pattern="^(approve|reject)$")],
           csrf: Csrf = None, comment: Annotated[str, Form(max_length=2000)] = "") -> Response:
    actor = checked(who, csrf)
    if decision == "approve":
        actions.approve_version(session, actor, slug=slug, number=number, comment=comment or None)
        return back(f"/d/{quote(slug)}", "approved")
    actions.reject_version(session, actor, slug=slug, number=number, reason=comment)
    return back("/review", "rejected")
