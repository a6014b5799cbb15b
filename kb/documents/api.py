"""HTTP routes of curated documents: thin wrappers that authorise, call the service, shape output."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile, status
from pydantic import ValidationError

from kb import provenance
from kb.actors import Access, Actor
from kb.db import transaction
from kb.documents import actions, service
from kb.documents.ingest_docx import MAX_UPLOAD_BYTES
from kb.documents.models import Audience, VersionState
from kb.documents.schemas import (
    ApproveRequest, DiffPublic, DocumentCreate, DocumentPublic, DocumentsPublic, DraftSave, ImportResult,
    ReasonRequest, ReviewQueue, SubmitRequest, VersionPublic, VersionsPublic,
)
from kb.errors import ErrorCode, KbError, jsonable_validation_errors
from kb.http import PageDep, SessionDep, api_router_options, require, require_for

router = APIRouter(prefix="/api/v1", **api_router_options("documents"))

DocSlugPath = Annotated[str, Path(max_length=120, description="The document's slug")]
SpaceSlugPath = Annotated[str, Path(max_length=64)]
NumberPath = Annotated[int, Path(ge=1, le=1_000_000, description="Version number")]
Signed = Annotated[Actor, Depends(require(Access.signed_in))]
Contributor = Annotated[Actor, Depends(require(Access.contributor))]
Owner = Annotated[Actor, Depends(require(Access.owner))]


def _document(session, actor: Actor, slug: str) -> DocumentPublic:  # noqa: ANN001
    return service.document_public(session, actor=actor, document=service.get_document(session, slug))


@router.post("/spaces/{space}/documents", status_code=status.HTTP_201_CREATED, response_model=DocumentPublic,
             summary="Create a document with its first draft")
def create_document(space: SpaceSlugPath, body: DocumentCreate, session: SessionDep, actor: Contributor) -> DocumentPublic:
    with transaction(session):
        document, _ = service.create_document(session, actor=actor, space_slug=space, data=body)
    return _document(session, actor, document.slug)


@router.post("/spaces/{space}/import", status_code=status.HTTP_201_CREATED, response_model=ImportResult,
             summary="Import a .docx, .md or .txt file as a draft (same bytes again: no-op)")
def import_document(
    space: SpaceSlugPath,
    request: Request,
    session: SessionDep,
    actor: Contributor,
    response: Response,
    file: Annotated[UploadFile, File(description=f"The file, at most {MAX_UPLOAD_BYTES} bytes")],
    slug: Annotated[str | None, Form(max_length=120, pattern=r"^[a-z0-9][a-z0-9-]{0,119}$")] = None,
    title: Annotated[str | None, Form(max_length=300)] = None,
    audience: Annotated[Audience | None, Form()] = None,
    language: Annotated[str | None, Form(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")] = None,
    tags: Annotated[str | None, Form(max_length=1000, description="Comma-separated")] = None,
    intended_use: Annotated[str | None, Form(max_length=2000)] = None,
    licence: Annotated[str | None, Form(max_length=200)] = None,
    valid_from: Annotated[dt.date | None, Form()] = None,
    valid_until: Annotated[dt.date | None, Form()] = None,
    review_by: Annotated[dt.date | None, Form()] = None,
    translation_of: Annotated[str | None, Form(max_length=120)] = None,
) -> ImportResult:
    data = file.file.read(MAX_UPLOAD_BYTES + 1)
    try:
        fields = DraftSave(
            title=title or None, audience=audience, language=language, intended_use=intended_use, licence=licence,
            valid_from=valid_from, valid_until=valid_until, review_by=review_by,
            tags=[t for t in (tags or "").split(",") if t.strip()] or None,
        )
    except ValidationError as exc:
        # The form fields are checked one by one by FastAPI; rules across fields (valid_until after
        # valid_from, tag lengths) only here. Found by the schemathesis run (issue 8): it was a 500.
        raise KbError(ErrorCode.VALIDATION_ERROR, "The form fields are not valid",
                      jsonable_validation_errors(list(exc.errors()))) from None
    with transaction(session):
        outcome = service.import_file(
            session, actor=actor, space_slug=space, filename=file.filename or "upload", data=data,
            files_dir=request.app.state.settings.files_dir, fields=fields, slug=slug, translation_of=translation_of)
    if outcome.outcome == "unchanged":
        response.status_code = status.HTTP_200_OK
    return ImportResult(outcome=outcome.outcome, document=_document(session, actor, outcome.document.slug),
                        version=outcome.version.number, source_sha256=outcome.source_sha256)


@router.get("/documents", response_model=DocumentsPublic, summary="List documents you may see")
def list_documents(
    session: SessionDep, actor: Signed, page: PageDep,
    space: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[VersionState | None, Query()] = None,
) -> DocumentsPublic:
    items, total = service.list_documents(session, actor=actor, space_slug=space, state=state,
                                          limit=page.limit, offset=page.offset)
    return DocumentsPublic(data=items, count=total)


@router.get("/documents/{slug}", response_model=DocumentPublic, summary="A document: its approved version with provenance card")
def get_document(slug: DocSlugPath, session: SessionDep, actor: Signed) -> DocumentPublic:
    return _document(session, actor, slug)


@router.put("/documents/{slug}/draft", response_model=VersionPublic,
            summary="Save a draft: edits the open draft, or starts a new version from the newest one")
def save_draft(slug: DocSlugPath, body: DraftSave, session: SessionDep, actor: Contributor) -> VersionPublic:
    with transaction(session):
        draft, _created = service.save_draft(session, actor=actor, slug=slug, data=body)
        document = service.get_document(session, slug)
    return service.version_public(session, document, draft)


@router.get("/documents/{slug}/versions", response_model=VersionsPublic, summary="Version history with states")
def list_versions(slug: DocSlugPath, session: SessionDep, actor: Signed) -> VersionsPublic:
    versions = service.history(session, actor=actor, slug=slug)
    return VersionsPublic(data=versions, count=len(versions))


@router.get("/documents/{slug}/versions/{number}", response_model=VersionPublic, summary="One version with its provenance card")
def get_version(slug: DocSlugPath, number: NumberPath, session: SessionDep, actor: Signed) -> VersionPublic:
    document, version = service.get_version(session, actor=actor, slug=slug, number=number)
    return service.version_public(session, document, version)


def _transition_result(session, actor: Actor, slug: str, number: int) -> VersionPublic:  # noqa: ANN001
    document, version = service.get_version(session, actor=actor, slug=slug, number=number)
    return service.version_public(session, document, version)


@router.post("/documents/{slug}/versions/{number}/submit", response_model=VersionPublic, summary="Submit a draft for review")
def submit(slug: DocSlugPath, number: NumberPath, body: SubmitRequest, session: SessionDep, actor: Contributor) -> VersionPublic:
    with transaction(session):
        service.submit(session, actor=actor, slug=slug, number=number, intended_use=body.intended_use)
    return _transition_result(session, actor, slug, number)


@router.post("/documents/{slug}/versions/{number}/approve", response_model=VersionPublic,
             summary="Approve a version in review (an owner other than the author)")
def approve(
    slug: DocSlugPath, number: NumberPath, body: ApproveRequest, session: SessionDep,
    actor: Annotated[Actor, Depends(require_for("version.approve"))],
) -> VersionPublic:
    return actions.approve(session, actor, slug=slug, number=number, comment=body.comment)


@router.post("/documents/{slug}/versions/{number}/reject", response_model=VersionPublic,
             summary="Reject a version in review; returns the new draft opened from it")
def reject(slug: DocSlugPath, number: NumberPath, body: ReasonRequest, session: SessionDep, actor: Owner) -> VersionPublic:
    with transaction(session):
        draft = service.reject(session, actor=actor, slug=slug, number=number, reason=body.reason)
    return _transition_result(session, actor, slug, draft.number)


@router.post("/documents/{slug}/retire", response_model=VersionPublic, summary="Retire the approved version")
def retire(slug: DocSlugPath, body: ReasonRequest, session: SessionDep, actor: Owner) -> VersionPublic:
    with transaction(session):
        version = service.retire(session, actor=actor, slug=slug, reason=body.reason)
    return _transition_result(session, actor, slug, version.number)


@router.get("/documents/{slug}/diff", response_model=DiffPublic, summary="Unified diff of two versions (provenance and body)")
def diff(
    slug: DocSlugPath, session: SessionDep, actor: Signed,
    from_version: Annotated[int, Query(alias="from", ge=1, le=1_000_000)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=1_000_000)],
) -> DiffPublic:
    text = service.diff(session, actor=actor, slug=slug, from_number=from_version, to_number=to_version)
    return DiffPublic(document=slug, from_version=from_version, to_version=to_version, diff=text)


@router.get(
    "/documents/{slug}/provenance",
    summary="W3C PROV export of the document's versions",
    response_class=Response,
    responses={200: {"content": {media: {"schema": {"type": "string"}} for media in provenance.PROV_FORMATS.values()},
                     "description": "The PROV document"}},
)
def export_provenance(
    slug: DocSlugPath, session: SessionDep, actor: Signed,
    format: Annotated[Literal["json", "provn", "xml", "ttl"], Query(description="PROV-JSON, PROV-N, PROV-XML or PROV-O Turtle")] = "json",  # noqa: A002
) -> Response:
    record = service.prov_record(session, actor=actor, slug=slug)
    document = provenance.build_prov(record)
    problems = provenance.check_prov(document)
    if problems:
        raise KbError(ErrorCode.INTERNAL_ERROR, "Bug: the provenance of this document fails our checks", {"problems": problems})
    return Response(provenance.serialize_prov(document, format), media_type=provenance.PROV_FORMATS[format])


@router.get("/review-queue", response_model=ReviewQueue, summary="What waits for you as an owner: in review, overdue, expiring")
def review_queue(session: SessionDep, actor: Owner) -> ReviewQueue:
    items = service.review_queue(session, actor=actor)
    return ReviewQueue(data=items, count=len(items))
