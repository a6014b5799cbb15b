"""Use cases of curated documents: the one door that the API, the web pages and the CLI go through.

Each action takes the session, the acting person (``kb.actors.Actor``; ``kb.actors.SYSTEM`` for kb
itself) and a validated input; it checks the actor against its row of ``kb.permissions`` with
``authorize``, calls the domain's services inside one transaction (``kb.db.transaction``: one per user
action, the audit event in it), performs the side effects, and returns what the surfaces render. The
per-object rules (an owner of *this* space, never one's own version, who may see a draft) stay in
the services, written once. Surfaces translate their input, call one action and render its result;
they never open a transaction or call a service that changes state themselves (docs/architecture.md).

Must not import the web framework, the ``api`` module, social, search or experts.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from kb import provenance
from kb.accounts import service as accounts
from kb.accounts.models import Space
from kb.actors import Actor
from kb.db import end_read, transaction
from kb.documents import bulk, importing, reading, service
from kb.documents.importing import OriginalFile
from kb.documents.models import VersionState
from kb.documents.schemas import (
    ApprovalCheck, BulkImported, BulkImportReport, BulkRefused, DiffPublic, DocumentCreate, DocumentPublic, DocumentsPublic, DraftSave, ImportResult, MyDocuments, ReportDismissed, ReviewPublic, ReviewQueue,
    TimelineStep, VersionPublic, VersionSummary, VersionsPublic,
)
from kb.encoding_first import EncodingFirst
from kb.errors import ErrorCode, KbError
from kb.permissions import authorize, may
from kb.provenance.schemas import LogStatus, StateDifference

ProvFormat = Literal["json", "provn", "xml", "ttl"]

__all__ = [
    "OriginalFile", "ProvFormat", "approve_version", "bulk_import", "create_document", "diff_versions", "document_history",
    "export_provenance", "import_document", "list_documents", "my_documents", "original_file", "read_document", "read_version",
    "reject_version", "retire_document", "review_queue", "review_version", "approval_check", "save_draft", "submit_version", "timeline", "version_to_edit",
]


def _version(session: Session, actor: Actor, slug: str, number: int) -> VersionPublic:
    document, version = service.get_version(session, actor=actor, slug=slug, number=number)
    return reading.version_public(session, document, version)


def _document(session: Session, actor: Actor, slug: str, indexed_up_to: int | None = None) -> DocumentPublic:
    return reading.document_public(session, actor=actor, document=service.get_document(session, slug), indexed_up_to=indexed_up_to)


# ------------------------------------------------------------------------------------- reading

def list_documents(
    session: Session, actor: Actor, *, space: str | None = None, state: VersionState | None = None,
    limit: int = 20, offset: int = 0,
) -> DocumentsPublic:
    """The documents the actor may see, each at the newest version they may see, by slug."""
    authorize(actor, "document.list")
    items, total = reading.list_documents(session, actor=actor, space_slug=space, state=state, limit=limit, offset=offset)
    return DocumentsPublic(data=items, count=total)


def read_document(session: Session, actor: Actor, *, slug: str, indexed_up_to: int | None = None) -> DocumentPublic:
    """A document: its approved version with the provenance card, and its open work if the actor may see it;
    with ``indexed_up_to`` (the audit sequence the caller's search indexes reached), whether search finds it yet.

    Raises:
        KbError NOT_FOUND: no such document, or nothing of it the actor may see.
    """
    authorize(actor, "document.read")
    return _document(session, actor, slug, indexed_up_to)


def document_history(session: Session, actor: Actor, *, slug: str) -> VersionsPublic:
    """The versions of a document the actor may see, oldest first, with their states.

    Raises:
        KbError NOT_FOUND: no such document, or no version the actor may see.
    """
    authorize(actor, "document.history")
    versions = reading.history(session, actor=actor, slug=slug)
    return VersionsPublic(data=versions, count=len(versions))


def read_version(session: Session, actor: Actor, *, slug: str, number: int) -> VersionPublic:
    """One version with its provenance card.

    Raises:
        KbError NOT_FOUND: no such version, or a working version the actor may not see (the same answer).
    """
    authorize(actor, "version.read")
    return _version(session, actor, slug, number)


def timeline(history: list[VersionSummary]) -> list[TimelineStep]:
    """The dated steps of a document's versions (``document_history``) in time order, naming who and why."""
    return reading.timeline(history)


def version_to_edit(session: Session, actor: Actor, *, slug: str) -> VersionPublic:
    """The newest version of a document, the one an edit starts from (what the edit form is filled with).

    Gated like saving the edit (``save_draft``): row ``version.edit``, and the actor writes in the
    document's space, so the form is offered exactly to those who may save it.

    Raises:
        KbError NOT_FOUND: no such document.
        KbError FORBIDDEN: the actor does not write in the document's space (service).
    """
    authorize(actor, "version.edit")
    document, version = service.version_to_edit(session, actor=actor, slug=slug)
    return reading.version_public(session, document, version)


def diff_versions(session: Session, actor: Actor, *, slug: str, from_number: int, to_number: int) -> DiffPublic:
    """Two versions the actor may see compared: the unified diff of the record (provenance fields, then the
    body), the provenance fields that changed as (field, before, after), and the diff of the body alone.

    Raises:
        KbError NOT_FOUND: either version does not exist or is hidden from the actor.
    """
    authorize(actor, "document.diff")
    return reading.diff(session, actor=actor, slug=slug, from_number=from_number, to_number=to_number)


def export_provenance(session: Session, actor: Actor, *, slug: str, format: ProvFormat = "json") -> tuple[str, str]:  # noqa: A002
    """The W3C PROV export of the versions the actor may see, checked before it leaves kb.

    Returns:
        The serialised PROV document and its media type.

    Raises:
        KbError NOT_FOUND: no such document, or no version the actor may see.
        KbError VALIDATION_ERROR: ``format`` is none of json, provn, xml, ttl.
        KbError INTERNAL_ERROR: the PROV document fails our own checks (a bug; ``details["problems"]``).
    """
    authorize(actor, "document.provenance")
    if format not in provenance.PROV_FORMATS:
        raise KbError(ErrorCode.VALIDATION_ERROR, f"Unknown PROV format {format!r}; use json, provn, xml or ttl")
    document = provenance.build_prov(reading.prov_record(session, actor=actor, slug=slug))
    problems = provenance.check_prov(document)
    if problems:
        raise KbError(ErrorCode.INTERNAL_ERROR, "Bug: the provenance of this document fails our checks", {"problems": problems})
    return provenance.serialize_prov(document, format), provenance.PROV_FORMATS[format]


def original_file(session: Session, actor: Actor, *, slug: str, number: int, files_dir: Path) -> OriginalFile:
    """The file a version was imported from, byte for byte, to those who may see the version.

    Raises:
        KbError NOT_FOUND: no such version, one the actor may not see, or a version not imported from a file.
        KbError INTERNAL_ERROR: the stored bytes no longer match their SHA-256.
    """
    authorize(actor, "document.file")
    return importing.original_file(session, actor=actor, slug=slug, number=number, files_dir=files_dir)


def my_documents(session: Session, actor: Actor) -> MyDocuments:
    """The actor's open curated work: drafts, versions in review, rejected versions with who, when and why
    (the draft reopened from each, to edit), and promoted answers waiting for approval (issue 17)."""
    authorize(actor, "me.work")
    return reading.my_documents(session, actor=actor)


def review_queue(session: Session, actor: Actor) -> ReviewQueue:
    """What waits for an owner in the spaces they own: versions in review, reports, overdue and expiring content.

    Raises:
        KbError FORBIDDEN: the actor owns no space.
    """
    authorize(actor, "review.queue")
    items = reading.review_queue(session, actor=actor)
    return ReviewQueue(data=items, count=len(items))


def dismiss_report(session: Session, actor: Actor, *, report_id: int, reason: str) -> ReportDismissed:
    """Close a reader's report as unfounded, with a reason (audited as ``report.dismiss``; the reader is told).

    Raises:
        KbError FORBIDDEN: the actor owns no space (``report.dismiss``).
        KbError NOT_FOUND: no such report in a space the actor owns.
        KbError FOUR_EYES: the actor wrote the version the report is about, in a four-eyes space.
        KbError CONFLICT: the report is closed already.
    """
    authorize(actor, "report.dismiss")
    with transaction(session):
        report, document = service.dismiss_report(session, actor=actor, report_id=report_id, reason=reason)
        return ReportDismissed(report=report_id, document=document.slug, reported=report.reason, reason=reason,
                               dismissed_by=actor.username, dismissed_at=report.resolved_at)  # type: ignore[arg-type]


def approval_check(session: Session, actor: Actor, *, slug: str, number: int) -> ApprovalCheck:
    """Whether ``actor`` may approve (and reject) a version now, and if not why, by the rules ``approve_version``
    applies (``service.approval_refusal``: owner of the space, in review, four eyes, two people), so that
    pages offer only what would succeed and say why not (issue 17).

    Raises:
        KbError NOT_FOUND: no such version, or one the actor may not see.
    """
    authorize(actor, "version.read")
    document, version = service.get_version(session, actor=actor, slug=slug, number=number)
    space = accounts.get_space_by_id(session, document.space_id)
    refusal = None
    if not may(actor, "version.approve"):
        refusal = KbError(ErrorCode.FORBIDDEN, "Only owners of a space may approve its documents", {"rule": "not_owner"})
    refusal = refusal or service.approval_refusal(session, actor=actor, version=version, space=space, slug=slug)
    may_reject = may(actor, "version.reject") and actor.owns(space.id) and version.state == VersionState.in_review  # type: ignore[arg-type]
    if refusal is None:
        return ApprovalCheck(may_approve=True, may_reject=may_reject)
    rule = (refusal.details or {}).get("rule") or {ErrorCode.FORBIDDEN: "not_owner"}.get(refusal.code, "state")
    return ApprovalCheck(may_approve=False, may_reject=may_reject, reason=refusal.message, rule=str(rule))


def review_version(session: Session, actor: Actor, *, slug: str, number: int) -> ReviewPublic:
    """A version as its reviewer sees it: the changes against the approved version (fields as before/after,
    the body as a text diff), the document's timeline in time order, and what the actor may decide.

    Raises:
        KbError NOT_FOUND: no such version, or one the actor may not see.
    """
    authorize(actor, "version.read")
    version = _version(session, actor, slug, number)
    document = _document(session, actor, slug)
    against = document.current.number if document.current and document.current.number != number else None
    changes = reading.diff(session, actor=actor, slug=slug, from_number=against, to_number=number) if against else None
    return ReviewPublic(version=version, against=against, changes=changes,
                        timeline=reading.timeline(reading.history(session, actor=actor, slug=slug)),
                        decision=approval_check(session, actor, slug=slug, number=number))


# ------------------------------------------------------------------------------------- writing

def _authorize_then_submit(actor: Actor, action: str, submit: bool) -> None:
    """The gate of ``action``, and with ``submit`` the gate of ``version.submit`` too (both surfaces offer "and submit")."""
    authorize(actor, action)
    if submit:
        authorize(actor, "version.submit")


def create_document(session: Session, actor: Actor, *, space: str, data: DocumentCreate, submit: bool = False) -> DocumentPublic:
    """Create a document with its first draft; with ``submit``, send that draft for review in the same transaction.

    Raises:
        KbError FORBIDDEN: the actor does not write in the space (service).
        KbError ALREADY_EXISTS: the slug is taken.
        KbError NOT_FOUND: the space, or the document it translates, does not exist.
        KbError VALIDATION_ERROR: ``submit`` without an intended use (nothing is created then).
    """
    _authorize_then_submit(actor, "document.create", submit)
    with transaction(session):
        document, version = service.create_document(session, actor=actor, space_slug=space, data=data)
        if submit:
            service.submit(session, actor=actor, slug=document.slug, number=version.number)
    return _document(session, actor, data.slug)


def import_document(
    session: Session, actor: Actor, *, space: str, filename: str, data: bytes, files_dir: Path, fields: DraftSave,
    slug: str | None = None, translation_of: str | None = None, submit: bool = False,
) -> ImportResult:
    """Import a .docx, .pdf, .html, .md or .txt file as a draft (the same bytes again: outcome ``unchanged``, no event).

    With ``submit``, the imported version is sent for review in the same transaction (not when unchanged).
    The file is parsed first, outside any transaction; the write transaction holds the inserts only.

    Raises:
        KbError FORBIDDEN: the actor does not write in the space (service).
        KbError INVALID_FILE / UNSUPPORTED_MEDIA_TYPE: the file cannot be imported (too large, corrupt, empty,
            or over a cap on paragraphs, characters or parse time: ``details["too_large"]``).
        KbError CONFLICT: the slug belongs to a document of another space.
        KbError ILLEGAL_TRANSITION: the document has a version in review.
    """
    _authorize_then_submit(actor, "document.import", submit)
    # Parse before the write transaction, with no lock held (issue 16: a 39-second parse inside it
    # made every other write fail with "database is locked"); the same bytes again are never parsed.
    unchanged = importing.unchanged_import(session, actor=actor, space_slug=space, filename=filename, data=data, slug=slug)
    if unchanged is not None:
        return ImportResult(outcome=unchanged.outcome, document=_document(session, actor, unchanged.document.slug),
                            version=unchanged.version.number, source_sha256=unchanged.source_sha256)
    end_read(session)
    parsed = importing.parse_file(filename, data)
    importing.store_file(files_dir, hashlib.sha256(data).hexdigest(), data)  # the disk write and fsync, no lock held
    with transaction(session):
        outcome = importing.import_file(session, actor=actor, space_slug=space, filename=filename, data=data,
                                        parsed=parsed, files_dir=files_dir, fields=fields, slug=slug,
                                        translation_of=translation_of)
        if submit and outcome.outcome != "unchanged":  # the same bytes again: nothing new to submit
            service.submit(session, actor=actor, slug=outcome.document.slug, number=outcome.version.number)
        result_slug, number = outcome.document.slug, outcome.version.number
    return ImportResult(outcome=outcome.outcome, document=_document(session, actor, result_slug), version=number,
                        source_sha256=outcome.source_sha256)


BulkProgress = Callable[[int, int], None]
"""Called after each file of a bulk import with (files done, files in all)."""


def bulk_import(
    session: Session, actor: Actor, *, space: str, open_batch: Callable[[], bulk.Batch], files_dir: Path,
    fields: DraftSave, submit: bool = False, workers: int | None = None, progress: BulkProgress | None = None,
    encoding_first: EncodingFirst | None = None,
) -> BulkImportReport:
    """Import a folder's or a zip's files (``kb.documents.bulk``), each as ``import_document`` imports one file.

    The one door of ``kb import DIR|ZIP``, ``POST /api/v1/spaces/{space}/bulk-import`` and the web page
    ``/import/bulk`` (issue 19). In order:

    1. the gates, once for the batch: ``document.import`` (and ``version.submit`` with ``submit``), and the
       actor writes in the space; only then is the batch opened (``open_batch``: listed, its zip checked);
    2. each file's slug from its path (``bulk.plan``: two paths giving one slug, all but the first refused);
    3. resume: a file whose document already has a version of exactly these bytes is ``unchanged``
       (``importing.unchanged_import``: a SHA-256 and one query, asked only for the slugs that name a document,
       ``importing.existing_slugs``, read for the whole batch at once; never parsed);
    4. the rest are parsed in parallel (``bulk.parse_in_order``: a process per core, the pure parser, no
       database), while this process writes, in the files' order:
    5. each file in its own write transaction (``importing.import_file``, with ``submit`` also
       ``service.submit``, so four eyes and the intended-use rule hold), its audit event in it, with the
       actor's channel. A file refused at any step (parse, conflict, in review, submit) rolls back alone
       and is listed with its reason; the batch goes on. On SQLite each such transaction gives way to
       any other writer waiting for the lock (``kb.db.WriteGate``): an approval meanwhile waits for one
       file's transaction at most. Before each file, with ``encoding_first`` (the data directory's gate,
       ``kb.encoding_first``), the import waits, holding no snapshot, while a catch-up that shares the data
       directory encodes the passages of a version just approved (at most ``PATIENCE_SECONDS`` at a time):
       that encoding has the cores, and the approval is searchable sooner.

    ``fields`` are the provenance fields every file gets (a title is the file's own: its declared title or
    first heading). A changed file makes a new draft version of its document (or updates its open draft),
    as single import does; a document with a version in review refuses the changed file.

    Raises (for the whole batch, before anything is written):
        KbError FORBIDDEN: the actor does not write in the space.
        KbError NOT_FOUND: no such space.
        KbError INVALID_FILE: the zip is unreadable or over a cap of the whole batch (``bulk``).
        KbError SERVICE_UNAVAILABLE: another bulk import is running in this process.
    """
    _authorize_then_submit(actor, "document.import", submit)
    space_row = accounts.get_space(session, space)
    service.require_writer(actor, space_row)
    if not _BULK_IMPORT.acquire(blocking=False):  # each holds a pool of parsers and a server thread for its whole batch
        raise KbError(ErrorCode.SERVICE_UNAVAILABLE, "Another bulk import is running in this process: try again when it "
                      "has ended", {"retry_after_seconds": 30}, headers={"Retry-After": "30"})
    try:
        return _bulk_import(session, actor, space=space, space_row=space_row, open_batch=open_batch, files_dir=files_dir,
                            fields=fields, submit=submit, workers=workers, progress=progress, encoding_first=encoding_first)
    finally:
        _BULK_IMPORT.release()


_BULK_IMPORT = threading.BoundedSemaphore(1)
"""One bulk import at a time per process (a second one is a 503 with Retry-After; the CLI is a process of its own)."""


def _bulk_import(
    session: Session, actor: Actor, *, space: str, space_row: Space, open_batch: Callable[[], bulk.Batch], files_dir: Path,
    fields: DraftSave, submit: bool, workers: int | None, progress: BulkProgress | None,
    encoding_first: EncodingFirst | None,
) -> BulkImportReport:
    end_read(session)  # listing a large folder or zip holds no snapshot
    started = time.perf_counter()
    fields = fields.model_copy(update={"title": None})
    imported: list[BulkImported] = []
    batch_id = uuid.uuid4().hex[:16] if submit else None  # the submissions' "batch": one notice per owner, not per file
    with open_batch() as batch:
        planned, collisions = bulk.plan(batch.entries)
        refused = [*batch.refused, *collisions]
        total, done = len(planned) + len(refused), len(refused)

        def tick() -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total)

        existing = importing.existing_slugs(session, (slug for _, slug in planned))
        end_read(session)

        def to_parse():  # noqa: ANN202 - a generator of (key, filename, data), read lazily by the parser
            for entry, slug in planned:
                try:
                    data = entry.read()
                    same = importing.unchanged_import(session, actor=actor, space_slug=space, filename=entry.path,
                                                      data=data, slug=slug, space=space_row) if slug in existing else None
                except KbError as error:
                    refused.append(BulkRefused(path=entry.path, code=error.code.code, reason=error.message))
                    tick()
                    continue
                if same is not None:
                    imported.append(BulkImported(path=entry.path, slug=slug, outcome="unchanged", version=same.version.number))
                    tick()
                    continue
                end_read(session)  # no snapshot held while the parsers work
                yield slug, entry.path, data

        if progress is not None:
            progress(done, total)
        for slug, path, data, parsed in bulk.parse_in_order(to_parse(), parse=importing.parse_file,
                                                            workers=workers or bulk.default_workers(),
                                                            expected=len(planned)):
            if isinstance(parsed, bulk.Refused):
                refused.append(BulkRefused(path=path, code=parsed.code, reason=parsed.reason))
            else:
                if encoding_first is not None:
                    end_read(session)  # no snapshot held while it waits (the last files may have been read unchanged)
                    encoding_first.before_next_file()
                item = _import_one(session, actor, space=space, path=path, slug=slug, data=data, parsed=parsed,
                                   files_dir=files_dir, fields=fields, submit=submit, batch_id=batch_id)
                (imported if isinstance(item, BulkImported) else refused).append(item)  # type: ignore[arg-type]
            tick()
    counts = Counter(item.outcome for item in imported)
    counts["refused"] = len(refused)
    imported.sort(key=lambda item: item.path)  # unchanged files are known before the parsed ones before them
    return BulkImportReport(space=space, files=len(imported) + len(refused), counts=dict(counts), imported=imported,
                            refused=[BulkRefused(path=r.path, code=r.code, reason=r.reason)
                                     for r in sorted(refused, key=lambda r: r.path)],
                            seconds=round(time.perf_counter() - started, 3))


def _import_one(
    session: Session, actor: Actor, *, space: str, path: str, slug: str, data: bytes, parsed: importing.ParsedFile,
    files_dir: Path, fields: DraftSave, submit: bool, batch_id: str | None = None,
) -> BulkImported | BulkRefused:
    """One file of a bulk import in its own write transaction: imported (and submitted), or refused and rolled back."""
    importing.store_file(files_dir, hashlib.sha256(data).hexdigest(), data)  # the disk write and fsync, no lock held
    try:
        # give_way: on SQLite, a writer waiting meanwhile (an approval) goes first: a batch must not keep it waiting
        with transaction(session, give_way=True):
            outcome = importing.import_file(session, actor=actor, space_slug=space, filename=path, data=data,
                                            parsed=parsed, files_dir=files_dir, fields=fields, slug=slug,
                                            source_path=path)
            submitted = submit and outcome.outcome != "unchanged"
            if submitted:  # the draft it has just written, and its space, held in this transaction
                service.submit_held(session, actor=actor, document=outcome.document, version=outcome.version,
                                    space=outcome.space, batch=batch_id, new=outcome.outcome == "created")
            return BulkImported(path=path, slug=slug, outcome=outcome.outcome, version=outcome.version.number,
                                submitted=submitted)
    except KbError as error:
        return BulkRefused(path=path, code=error.code.code, reason=error.message)
    except IntegrityError:  # another import of the same slug committed first (a race between two batches)
        return BulkRefused(path=path, code=ErrorCode.CONFLICT.code,
                           reason="another import wrote this document at the same moment; run the import again")


def save_draft(session: Session, actor: Actor, *, slug: str, data: DraftSave, submit: bool = False) -> VersionPublic:
    """Edit a document: change its open draft, or start a new draft from the newest version.

    With ``submit``, the draft is sent for review in the same transaction.

    Raises:
        KbError FORBIDDEN: the actor does not write in the document's space (service).
        KbError ILLEGAL_TRANSITION: a version is in review (approve or reject it first).
        KbError VALIDATION_ERROR: ``submit`` without an intended use (nothing is saved then).
    """
    _authorize_then_submit(actor, "version.edit", submit)
    with transaction(session):
        draft, _created = service.save_draft(session, actor=actor, slug=slug, data=data)
        if submit:
            service.submit(session, actor=actor, slug=slug, number=draft.number)
        number = draft.number
    return _version(session, actor, slug, number)


def submit_version(session: Session, actor: Actor, *, slug: str, number: int, intended_use: str | None = None) -> VersionPublic:
    """Freeze a draft and send it for review; it needs an intended-use statement.

    Raises:
        KbError FORBIDDEN: neither the author nor a writer of the space (service).
        KbError ILLEGAL_TRANSITION: the version is not a draft.
        KbError VALIDATION_ERROR: no intended use stated.
    """
    authorize(actor, "version.submit")
    with transaction(session):
        service.submit(session, actor=actor, slug=slug, number=number, intended_use=intended_use)
    return _version(session, actor, slug, number)


def approve_version(session: Session, actor: Actor, *, slug: str, number: int, comment: str | None = None) -> VersionPublic:
    """Approve a version in review: it becomes the version everyone sees; the previous one is superseded.

    Raises:
        KbError FORBIDDEN: the actor owns no space, or not this document's (service).
        KbError FOUR_EYES: the actor wrote or contributed to the version in a four-eyes space (service).
        KbError ILLEGAL_TRANSITION: the version is not in review (service).
    """
    authorize(actor, "version.approve")
    with transaction(session):
        service.approve(session, actor=actor, slug=slug, number=number, comment=comment)
    return _version(session, actor, slug, number)


def reject_version(session: Session, actor: Actor, *, slug: str, number: int, reason: str) -> VersionPublic:
    """Reject a version in review, saying why; returns the new draft opened from it for the author.

    Raises:
        KbError VALIDATION_ERROR: no reason given (the author gets it).
        KbError FORBIDDEN: the actor does not own this document's space (service).
        KbError ILLEGAL_TRANSITION: the version is not in review (service).
    """
    authorize(actor, "version.reject")
    reason = reason.strip()
    if not reason:
        raise KbError(ErrorCode.VALIDATION_ERROR, "Say why you reject it: the author gets your reason")
    with transaction(session):
        draft = service.reject(session, actor=actor, slug=slug, number=number, reason=reason)
        draft_number = draft.number
    return _version(session, actor, slug, draft_number)


def retire_document(session: Session, actor: Actor, *, slug: str, reason: str) -> VersionPublic:
    """Withdraw the approved version: the document stays on record but is no longer served as truth.

    Raises:
        KbError FORBIDDEN: the actor does not own this document's space (service).
        KbError ILLEGAL_TRANSITION: no version is approved.
    """
    authorize(actor, "document.retire")
    with transaction(session):
        version = service.retire(session, actor=actor, slug=slug, reason=reason)
        number = version.number
    return _version(session, actor, slug, number)


# ------------------------------------------------------------------------------ the log's content

def audit_database(
    session: Session, actor: Actor, *, checkpoint: dict[str, object] | None, signing_key: Path | None,
    trusted_keys: list[str], parallel: bool = False,
) -> tuple[provenance.LogAudit, list[dict[str, object]]]:
    """``kb audit verify``: the chain, the signed head and the served state, from one read of the log
    (``parallel``: on two cores, the CLI only; ``provenance.audit_log``).

    Returns:
        What the log's check found (``provenance.audit_log``) and, when the chain holds, every
        difference between the database and the log's commitments (``integrity.Difference.as_dict``).

    Raises:
        KbError NOT_AUTHENTICATED or FORBIDDEN: the actor is not an admin (``audit.verify``).
        OSError, ValueError: the signing key file cannot be read.
    """
    from kb.documents import integrity

    authorize(actor, "audit.verify")
    audit = provenance.audit_log(session, checkpoint, signing_key=signing_key, trusted_keys=trusted_keys,
                                 parallel=parallel)
    found = integrity.differences(session, audit.state) if audit.chain.ok else []
    return audit, [difference.as_dict() for difference in found]


def verify_log(session: Session, actor: Actor) -> LogStatus:
    """``GET /api/v1/audit/verify``: the hash chain, then every difference between the database and what the
    log commits to (the check of ``kb audit verify`` without a signed head).

    Raises:
        KbError NOT_AUTHENTICATED or FORBIDDEN: the actor is not an admin (``audit.verify``).
    """
    audit, differences = audit_database(session, actor, checkpoint=None, signing_key=None, trusted_keys=[])
    return LogStatus(**audit.chain.as_dict(), consistent=audit.chain.ok and not differences,
                     differences=[StateDifference(**difference) for difference in differences])

