"""HTTP routes of curated documents: each translates the request, calls one action, returns its result.

Every route declares its row of ``kb.permissions`` with ``require_for``; the action applies the same
gate and the per-object rules. No transaction, no service call and no permission check here. Must
not be imported by the web pages (they call ``kb.documents.actions``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile, status

from kb import provenance
from kb.actors import Actor
from kb.db import MAX_ROW_ID
from kb.documents import actions, bulk
from kb.documents.ingest_docx import MAX_UPLOAD_BYTES, SUPPORTED_SUFFIXES
from kb.documents.models import Audience, VersionState
from kb.documents.schemas import (
    ApproveRequest, BulkImportReport, DiffPublic, DocumentCreate, DocumentPublic, DocumentsPublic, DraftSave, ImportResult,
    ReasonRequest, ReportDismissed, ReviewPublic, ReviewQueue, SubmitRequest, VersionPublic, VersionsPublic, import_fields,
)
from kb.encoding_first import EncodingFirst
from kb.errors import ErrorCode, KbError
from kb.http import PageDep, SessionDep, api_router_options, require_for
from kb.provenance.schemas import LogStatus

router = APIRouter(prefix="/api/v1", **api_router_options("documents"))
audit_router = APIRouter(prefix="/api/v1", **api_router_options("audit"))

DocSlugPath = Annotated[str, Path(max_length=120, description="The document's slug")]
SpaceSlugPath = Annotated[str, Path(max_length=64)]
NumberPath = Annotated[int, Path(ge=1, le=1_000_000, description="Version number")]


@router.post("/spaces/{space}/documents", status_code=status.HTTP_201_CREATED, response_model=DocumentPublic,
             summary="Create a document with its first draft")
def create_document(space: SpaceSlugPath, body: DocumentCreate, session: SessionDep,
                    actor: Annotated[Actor, Depends(require_for("document.create"))]) -> DocumentPublic:
    return actions.create_document(session, actor, space=space, data=body)


@router.post("/spaces/{space}/import", status_code=status.HTTP_201_CREATED, response_model=ImportResult,
             summary="Import a .docx, .pdf, .html, .md or .txt file as a draft (same bytes again: no-op)")
def import_document(
    space: SpaceSlugPath,
    request: Request,
    session: SessionDep,
    actor: Annotated[Actor, Depends(require_for("document.import"))],
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
    applies_to: Annotated[str | None, Form(max_length=2000, description="Whom it concerns: comma-separated concept "
                                           "references (situation:student)")] = None,
    topic: Annotated[str | None, Form(max_length=2000, description="Comma-separated topic concepts (topic:housing)")] = None,
    region: Annotated[str | None, Form(max_length=2000, description="Comma-separated region concepts")] = None,
) -> ImportResult:
    data = file.file.read(MAX_UPLOAD_BYTES + 1)
    fields = import_fields(title=title, audience=audience, language=language, tags=tags, intended_use=intended_use,
                           licence=licence, valid_from=valid_from, valid_until=valid_until, review_by=review_by,
                           applies_to=applies_to, topic=topic, region=region)
    result = actions.import_document(session, actor, space=space, filename=file.filename or "upload", data=data,
                                     files_dir=request.app.state.settings.files_dir, fields=fields, slug=slug,
                                     translation_of=translation_of)
    if result.outcome == "unchanged":
        response.status_code = status.HTTP_200_OK
    return result


@router.post(
    "/spaces/{space}/bulk-import", response_model=BulkImportReport,
    summary="Import a zip of files as drafts (or submitted), each in its own transaction, with a report of refused files",
    description="Every member of the zip whose suffix kb reads (" + ", ".join(SUPPORTED_SUFFIXES) + ") becomes a "
    "draft version of the document whose slug its path gives (`hr/leave.md`: `hr-leave`); a member already imported "
    "with the same bytes is `unchanged` (run it again to resume). Each file is imported in its own transaction: "
    "`refused` lists every file that was not, with its reason, and the answer is 200 whatever it holds. The whole "
    "zip is refused (422) when it is unreadable or over a cap (files, inflated bytes, compression ratio: "
    "docs/reliability.md), and (413) when the upload exceeds `KB_MAX_BULK_IMPORT_BYTES`.",
)
def bulk_import(
    space: SpaceSlugPath,
    request: Request,
    session: SessionDep,
    actor: Annotated[Actor, Depends(require_for("document.import"))],
    file: Annotated[UploadFile, File(description="The zip, at most KB_MAX_BULK_IMPORT_BYTES bytes")],
    audience: Annotated[Audience | None, Form()] = None,
    language: Annotated[str | None, Form(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")] = None,
    tags: Annotated[str | None, Form(max_length=1000, description="Comma-separated")] = None,
    intended_use: Annotated[str | None, Form(max_length=2000)] = None,
    licence: Annotated[str | None, Form(max_length=200)] = None,
    valid_from: Annotated[dt.date | None, Form()] = None,
    valid_until: Annotated[dt.date | None, Form()] = None,
    review_by: Annotated[dt.date | None, Form()] = None,
    applies_to: Annotated[str | None, Form(max_length=2000, description="Whom it concerns: comma-separated concept "
                                           "references (situation:student)")] = None,
    topic: Annotated[str | None, Form(max_length=2000, description="Comma-separated topic concepts (topic:housing)")] = None,
    region: Annotated[str | None, Form(max_length=2000, description="Comma-separated region concepts")] = None,
    submit: Annotated[bool, Form(description="Send each imported version for review (needs an intended use)")] = False,
) -> BulkImportReport:
    settings = request.app.state.settings
    if file.size is not None and file.size > settings.max_bulk_import_bytes:
        raise KbError(ErrorCode.PAYLOAD_TOO_LARGE, f"The zip exceeds the limit of {settings.max_bulk_import_bytes} bytes")
    fields = import_fields(audience=audience, language=language, tags=tags, intended_use=intended_use,
                           licence=licence, valid_from=valid_from, valid_until=valid_until, review_by=review_by,
                           applies_to=applies_to, topic=topic, region=region)
    return actions.bulk_import(session, actor, space=space, open_batch=lambda: bulk.open_zip(file.file),
                               files_dir=settings.files_dir, fields=fields, submit=submit,
                               workers=settings.import_workers or None, encoding_first=EncodingFirst.of(settings))


@router.get("/documents", response_model=DocumentsPublic, summary="List documents you may see")
def list_documents(
    session: SessionDep, actor: Annotated[Actor, Depends(require_for("document.list"))], page: PageDep,
    space: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[VersionState | None, Query()] = None,
) -> DocumentsPublic:
    return actions.list_documents(session, actor, space=space, state=state, limit=page.limit, offset=page.offset)


@router.get("/documents/{slug}", response_model=DocumentPublic, summary="A document: its approved version with provenance card")
def get_document(slug: DocSlugPath, session: SessionDep, request: Request,
                 actor: Annotated[Actor, Depends(require_for("document.read"))]) -> DocumentPublic:
    return actions.read_document(session, actor, slug=slug, indexed_up_to=request.app.state.search.last_seq)


@router.put("/documents/{slug}/draft", response_model=VersionPublic,
            summary="Save a draft: edits the open draft, or starts a new version from the newest one")
def save_draft(slug: DocSlugPath, body: DraftSave, session: SessionDep,
               actor: Annotated[Actor, Depends(require_for("version.edit"))]) -> VersionPublic:
    return actions.save_draft(session, actor, slug=slug, data=body)


@router.get("/documents/{slug}/versions", response_model=VersionsPublic, summary="Version history with states")
def list_versions(slug: DocSlugPath, session: SessionDep,
                  actor: Annotated[Actor, Depends(require_for("document.history"))]) -> VersionsPublic:
    return actions.document_history(session, actor, slug=slug)


@router.get("/documents/{slug}/versions/{number}", response_model=VersionPublic, summary="One version with its provenance card")
def get_version(slug: DocSlugPath, number: NumberPath, session: SessionDep,
                actor: Annotated[Actor, Depends(require_for("version.read"))]) -> VersionPublic:
    return actions.read_version(session, actor, slug=slug, number=number)


@router.get(
    "/documents/{slug}/versions/{number}/file",
    summary="The original file an imported version was made from (404 for authored versions)",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                     "description": "The file's bytes as uploaded, with its media type, as an attachment"}},
)
def get_version_file(slug: DocSlugPath, number: NumberPath, request: Request, session: SessionDep,
                     actor: Annotated[Actor, Depends(require_for("document.file"))]) -> Response:
    original = actions.original_file(session, actor, slug=slug, number=number,
                                     files_dir=request.app.state.settings.files_dir)
    return Response(original.content, media_type=original.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{original.filename}"'})


@router.post("/documents/{slug}/versions/{number}/submit", response_model=VersionPublic, summary="Submit a draft for review")
def submit(slug: DocSlugPath, number: NumberPath, body: SubmitRequest, session: SessionDep,
           actor: Annotated[Actor, Depends(require_for("version.submit"))]) -> VersionPublic:
    return actions.submit_version(session, actor, slug=slug, number=number, intended_use=body.intended_use)


@router.post("/documents/{slug}/versions/{number}/approve", response_model=VersionPublic,
             summary="Approve a version in review (an owner other than the author)")
def approve(slug: DocSlugPath, number: NumberPath, body: ApproveRequest, session: SessionDep,
            actor: Annotated[Actor, Depends(require_for("version.approve"))]) -> VersionPublic:
    return actions.approve_version(session, actor, slug=slug, number=number, comment=body.comment)


@router.post("/documents/{slug}/versions/{number}/reject", response_model=VersionPublic,
             summary="Reject a version in review; returns the new draft opened from it")
def reject(slug: DocSlugPath, number: NumberPath, body: ReasonRequest, session: SessionDep,
           actor: Annotated[Actor, Depends(require_for("version.reject"))]) -> VersionPublic:
    return actions.reject_version(session, actor, slug=slug, number=number, reason=body.reason)


@router.post("/documents/{slug}/retire", response_model=VersionPublic, summary="Retire the approved version")
def retire(slug: DocSlugPath, body: ReasonRequest, session: SessionDep,
           actor: Annotated[Actor, Depends(require_for("document.retire"))]) -> VersionPublic:
    return actions.retire_document(session, actor, slug=slug, reason=body.reason)


@router.get("/documents/{slug}/versions/{number}/review", response_model=ReviewPublic,
            summary="A version as its reviewer sees it: changes, timeline, and whether you may approve it (and why not)")
def review(slug: DocSlugPath, number: NumberPath, session: SessionDep,
           actor: Annotated[Actor, Depends(require_for("version.read"))]) -> ReviewPublic:
    return actions.review_version(session, actor, slug=slug, number=number)


@router.get("/documents/{slug}/diff", response_model=DiffPublic, summary="Unified diff of two versions (provenance and body)")
def diff(
    slug: DocSlugPath, session: SessionDep, actor: Annotated[Actor, Depends(require_for("document.diff"))],
    from_version: Annotated[int, Query(alias="from", ge=1, le=1_000_000)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=1_000_000)],
) -> DiffPublic:
    return actions.diff_versions(session, actor, slug=slug, from_number=from_version, to_number=to_version)


@router.get(
    "/documents/{slug}/provenance",
    summary="W3C PROV export of the document's versions",
    response_class=Response,
    responses={200: {"content": {media: {"schema": {"type": "string"}} for media in provenance.PROV_FORMATS.values()},
                     "description": "The PROV document"}},
)
def export_provenance(
    slug: DocSlugPath, session: SessionDep, actor: Annotated[Actor, Depends(require_for("document.provenance"))],
    format: Annotated[actions.ProvFormat, Query(description="PROV-JSON, PROV-N, PROV-XML or PROV-O Turtle")] = "json",  # noqa: A002
) -> Response:
    text, media_type = actions.export_provenance(session, actor, slug=slug, format=format)
    return Response(text, media_type=media_type)


@router.get("/review-queue", response_model=ReviewQueue, summary="What waits for you as an owner: in review, overdue, expiring")
def review_queue(session: SessionDep, actor: Annotated[Actor, Depends(require_for("review.queue"))]) -> ReviewQueue:
    return actions.review_queue(session, actor)


@router.post("/reports/{report_id}/dismiss", response_model=ReportDismissed,
             summary="Dismiss a reader's report (wrong, outdated) as unfounded, with a reason: it leaves the review queue")
def dismiss_report(report_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="The report's id (review queue: report)")],
                   body: ReasonRequest, session: SessionDep,
                   actor: Annotated[Actor, Depends(require_for("report.dismiss"))]) -> ReportDismissed:
    return actions.dismiss_report(session, actor, report_id=report_id, reason=body.reason)


# ------------------------------------------------------------------------- the log against the database

@audit_router.get("/audit/verify", response_model=LogStatus,
                  summary="Verify the audit hash chain and the database against what the log commits to",
                  description="`ok` is the chain; `differences` names every document version, space, person and taxonomy concept "
                              "whose row is not what the log commits to (changed outside kb); `consistent` is both. "
                              "Against a signed tree head kept outside the database: `kb audit verify --checkpoint`.")
def verify_audit_log(session: SessionDep, actor: Annotated[Actor, Depends(require_for("audit.verify"))]) -> LogStatus:
    return actions.verify_log(session, actor)
