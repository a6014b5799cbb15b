"""Wire shapes of the curated-documents domain. Every curated object carries its provenance card.

Owns what the API accepts and answers (and what the web pages and the CLI build their input from),
and the cross-field check of an import form. Imports only the domain's models and the foundation:
no service, no action, no web framework.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from kb.documents.models import Audience, SourceKind, VersionState
from kb.errors import ErrorCode, KbError, jsonable_validation_errors
from kb.markdown import with_visible_text
from kb.taxonomy.schemas import ConceptRefPublic, Ref

DocSlug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,119}$")]
Title = Annotated[str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=50, strip_whitespace=True, to_lower=True)]
IntendedUse = Annotated[str, StringConstraints(max_length=2000, strip_whitespace=True)]
MAX_BODY_CHARS = 2_000_000

# An absolute http(s) URI by the grammar of RFC 3986 (section 3): only its unreserved, reserved and
# percent-encoded characters, so no space, quote, angle bracket or other character that must be
# percent-encoded; it reaches every export (PROV-O Turtle among them) as it was given (issue 16).
_UNRESERVED, _PCT, _SUB_DELIMS = r"A-Za-z0-9\-._~", r"%[0-9A-Fa-f]{2}", r"!$&'()*+,;="
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
_HTTP_URI = re.compile(
    r"[Hh][Tt][Tt][Pp][Ss]?://"
    rf"(?:(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*@)?"  # userinfo
    rf"(?:\[[0-9A-Fa-f:.]+\]|(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})+)"  # host: an IP literal or a name
    r"(?::[0-9]*)?"  # port
    rf"(?:/{_PCHAR}*)*"  # path
    rf"(?:\?(?:{_PCHAR}|[/?])*)?"  # query
    rf"(?:#(?:{_PCHAR}|[/?])*)?"  # fragment
)


def is_http_uri(value: str) -> bool:
    """Whether ``value`` is an absolute http(s) URI that kb stores as a source URI (RFC 3986, see above)."""
    return _HTTP_URI.fullmatch(value) is not None


def _http_uri(value: str) -> str:
    if not is_http_uri(value):
        raise ValueError("must be an absolute http:// or https:// URI (RFC 3986) without spaces, quotes, angle brackets "
                         "or other characters that must be percent-encoded")
    return value


SourceUri = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_http_uri)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProvenanceFields(Strict):
    """Provenance a writer states; changing any of them after submission makes a new version."""

    audience: Audience | None = None
    language: Language | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] | None = None
    intended_use: IntendedUse | None = None
    licence: Annotated[str, StringConstraints(max_length=200, strip_whitespace=True)] | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    review_by: dt.date | None = None
    source_uri: SourceUri | None = None
    applies_to: Annotated[list[Ref], Field(max_length=30, description="Whom it concerns: life-situation concepts, "
                          "as scheme:key (situation:student); [] for none")] | None = None
    topic: Annotated[list[Ref], Field(max_length=30, description="What it is about: topic concepts (topic:housing)")] | None = None
    region: Annotated[list[Ref], Field(max_length=30, description="Where it holds: region concepts")] | None = None

    @model_validator(mode="after")
    def _window(self) -> "ProvenanceFields":
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class DocumentCreate(ProvenanceFields):
    slug: DocSlug
    title: Title
    body_md: Annotated[str, StringConstraints(min_length=1, max_length=MAX_BODY_CHARS), AfterValidator(with_visible_text)]
    audience: Audience = Audience.internal
    language: Language = "en"
    translation_of: DocSlug | None = Field(None, description="Slug of the document this one translates")


Clearable = Literal["tags", "intended_use", "licence", "valid_from", "valid_until", "review_by", "source_uri"]
CLEARABLE: tuple[str, ...] = get_args(Clearable)
"""The optional provenance fields an edit may empty (``DraftSave.clear``); a field left out, or null, is kept."""


class DraftSave(ProvenanceFields):
    """Edit a document: updates its open draft, or starts a new draft version from the newest one."""

    title: Title | None = None
    body_md: Annotated[str, StringConstraints(min_length=1, max_length=MAX_BODY_CHARS), AfterValidator(with_visible_text)] | None = None
    clear: Annotated[list[Clearable], Field(max_length=len(CLEARABLE), description=(
        "Optional fields to empty (a wrongly set expiry, a licence that no longer applies): a field left out or "
        "null keeps its value"))] = []

    @model_validator(mode="after")
    def _clear_or_set(self) -> "DraftSave":
        both = [name for name in self.clear if getattr(self, name) is not None]
        if both:
            raise ValueError(f"{', '.join(both)}: either set a value or clear it, not both")
        return self


def import_fields(
    *, title: str | None = None, audience: Audience | None = None, language: str | None = None, tags: str | None = None,
    intended_use: str | None = None, licence: str | None = None, valid_from: dt.date | None = None,
    valid_until: dt.date | None = None, review_by: dt.date | None = None, applies_to: str | None = None,
    topic: str | None = None, region: str | None = None,
) -> DraftSave:
    """The provenance fields of an import form (``tags`` and the concept fields ``applies_to``, ``topic`` and
    ``region`` comma-separated, concepts as ``scheme:key``; an empty title means none).

    The form fields are checked one by one by the surface; rules across fields (valid_until after
    valid_from, tag lengths) only here. Found by the schemathesis run (issue 8): it was a 500.

    Raises:
        KbError VALIDATION_ERROR: the fields are not valid together.
    """
    try:
        return DraftSave(
            title=title or None, audience=audience, language=language, intended_use=intended_use, licence=licence,
            valid_from=valid_from, valid_until=valid_until, review_by=review_by,
            tags=[t for t in (tags or "").split(",") if t.strip()] or None,
            applies_to=_refs(applies_to), topic=_refs(topic), region=_refs(region),
        )
    except ValidationError as exc:
        raise KbError(ErrorCode.VALIDATION_ERROR, "The form fields are not valid",
                      jsonable_validation_errors(list(exc.errors()))) from None


def _refs(text: str | None) -> list[str] | None:
    """Comma-separated concept references (``situation:student, situation:tenant``); None when none are given."""
    return [ref.strip() for ref in (text or "").split(",") if ref.strip()] or None


class SubmitRequest(Strict):
    intended_use: IntendedUse | None = Field(None, description="Required unless the draft already states it")


class ApproveRequest(Strict):
    comment: Annotated[str, StringConstraints(max_length=2000)] | None = None


class ReasonRequest(Strict):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True), AfterValidator(with_visible_text)]


class PersonRef(BaseModel):
    """A person on an employee's card: the stable username beside the display name (issue 16)."""

    username: str = Field(description="Stable and unique: tells people apart")
    display_name: str = Field(description="Unique after Unicode confusable folding (UTS #39); may change, the username does not")


class ProvenanceCard(BaseModel):
    """Who stands behind a version, where it came from, what it may be used for and until when."""

    version: int
    state: VersionState
    title: str
    space: str
    owner: PersonRef
    author: PersonRef
    contributors: list[PersonRef]
    approved_by: PersonRef | None
    approved_at: dt.datetime | None
    second_review: bool | None = Field(
        description="False: approved without a second review (submitted with four eyes off in its space, or approved "
                    "by its author or a credited contributor). Null until approved.")
    intended_use: str
    audience: Audience
    licence: str
    language: str
    valid_from: dt.date | None
    valid_until: dt.date | None
    review_by: dt.date | None
    review_overdue: bool
    expired: bool
    source_kind: SourceKind
    source_uri: str | None
    source_sha256: str | None
    source_filename: str | None
    declared_by_file: dict[str, str | None] | None = Field(
        None, description="Core properties the imported file declares about itself (not verified)")
    derived_from: list[int]
    translation_of: str | None
    translation_of_title: str | None = Field(
        None, description="Title of the approved version of the document this one translates (None until it has one)")
    body_sha256: str
    applies_to: list[ConceptRefPublic] = Field([], description="Whom it concerns (life situations), labels in the card's language")
    topic: list[ConceptRefPublic] = []
    region: list[ConceptRefPublic] = []


class VersionSummary(BaseModel):
    number: int
    state: VersionState
    title: str
    author: str
    created_at: dt.datetime
    submitted_at: dt.datetime | None
    approved_by: str | None
    approved_at: dt.datetime | None
    ended_at: dt.datetime | None
    rejection_reason: str | None
    submitted_by: str | None = None
    rejected_by: str | None = None
    rejected_at: dt.datetime | None = None
    ended_by: str | None = None
    end_reason: str | None = None


class VersionPublic(BaseModel):
    document: str
    number: int
    state: VersionState
    title: str
    body_md: str
    tags: list[str]
    provenance: ProvenanceCard


class SearchStatus(StrEnum):
    """Whether search finds a document's approved version yet."""

    searchable = "searchable"
    being_indexed = "being indexed"


class DocumentPublic(BaseModel):
    slug: str
    space: str
    owner: PersonRef
    current: VersionPublic | None = Field(description="The approved version, if any")
    working: VersionSummary | None = Field(description="The open draft or version in review, if you may see it")
    translations: list[str]
    review_overdue: bool
    may_edit: bool = Field(False, description="Whether you may edit it now: a new draft, or the open one (not one in review)")
    search: SearchStatus | None = Field(
        None, description="For the approved version: 'searchable' once this server's search holds the document's "
        "latest change, 'being indexed' until then (approving returns before indexing, issue 19); null when "
        "there is no approved version")


class DocumentListItem(BaseModel):
    slug: str
    space: str
    title: str
    state: VersionState
    version: int
    audience: Audience
    language: str
    review_overdue: bool


class DocumentsPublic(BaseModel):
    data: list[DocumentListItem]
    count: int


class VersionsPublic(BaseModel):
    data: list[VersionSummary]
    count: int


class FieldChange(BaseModel):
    """One provenance field that differs between two versions, as people read it (issue 17)."""

    field: str
    before: str | None
    after: str | None


class DiffPublic(BaseModel):
    document: str
    from_version: int
    to_version: int
    diff: str = Field(description="Unified diff of the provenance fields and the body")
    fields: list[FieldChange] = Field(default_factory=list, description="The provenance fields that differ (issue 17)")
    body_diff: str = Field("", description="Unified diff of the body text alone")


class TimelineStep(BaseModel):
    """One dated step of a document's history: who did what to which version, and why."""

    at: dt.datetime
    version: int
    action: str = Field(description="drafted, submitted, approved, rejected, superseded or retired")
    by: str | None = Field(description="The username of who did it (None where kb did it)")
    reason: str | None = Field(None, description="The rejection reason, the approval comment or why it ended")


class ApprovalCheck(BaseModel):
    """Whether the actor may approve a version now, and if not why: the approval's own rules (issue 17)."""

    may_approve: bool
    may_reject: bool
    reason: str | None = Field(None, description="Why the actor may not approve it, in plain words")
    rule: str | None = Field(None, description="The rule that refuses it: four_eyes, password_set_by, not_owner or state")


class ReviewPublic(BaseModel):
    """A version under review as a reviewer sees it: the changes against the approved version, the
    document's timeline in time order, and what the actor may decide."""

    version: VersionPublic
    against: int | None = Field(description="The approved version the changes are shown against")
    changes: DiffPublic | None
    timeline: list[TimelineStep]
    decision: ApprovalCheck


class WorkItem(BaseModel):
    """One of my versions waiting for something: to be finished, reviewed, or changed after a rejection."""

    document: str
    space: str
    title: str
    version: int
    state: VersionState
    source_kind: SourceKind
    at: dt.datetime = Field(description="When it last changed: saved, submitted or rejected")
    edit_version: int | None = Field(description="The draft the actor may edit now (None: nothing to edit, or not theirs to)")
    rejected_version: int | None = None
    rejected_by: str | None = None
    rejected_at: dt.datetime | None = None
    rejection_reason: str | None = None


class MyDocuments(BaseModel):
    """The curated work of one person (issue 17): drafts, versions in review, versions rejected with the
    reason, and promoted answers waiting for their review."""

    drafts: list[WorkItem]
    in_review: list[WorkItem]
    rejected: list[WorkItem]
    promoted: list[WorkItem]


class ImportResult(BaseModel):
    outcome: str = Field(description="created, new_version, updated_draft or unchanged")
    document: DocumentPublic
    version: int
    source_sha256: str


class BulkImported(BaseModel):
    """A file of a bulk import that is now (or already was) a version of a document."""

    path: str = Field(description="The file's path inside the folder or zip (its source filename)")
    slug: str = Field(description="The document's slug, made from the path")
    outcome: str = Field(description="created, new_version, updated_draft or unchanged (the same bytes: skipped)")
    version: int
    submitted: bool = Field(False, description="Sent for review in the same transaction (with submit)")


class BulkRefused(BaseModel):
    """A file of a bulk import that was not imported, and why (nothing of it was written)."""

    path: str = Field(description="The file's path inside the folder or zip")
    code: str = Field(description="The error code that refused it (docs/errors.md)")
    reason: str


class BulkImportReport(BaseModel):
    """What a bulk import did with every file: each is imported in its own transaction, so one bad file never
    stops the batch; running it again skips, by SHA-256, what is already imported (outcome ``unchanged``)."""

    space: str
    files: int = Field(description="Files seen: imported, unchanged and refused")
    counts: dict[str, int] = Field(description="Files per outcome, and refused")
    imported: list[BulkImported]
    refused: list[BulkRefused]
    seconds: float = Field(description="Wall-clock time of the import")


class ReviewItem(BaseModel):
    reason: str = Field(description="in_review, reported_wrong, reported_outdated, review_overdue, expiring or review_due_soon")
    document: str
    space: str
    version: int
    title: str
    author: str
    submitted_at: dt.datetime | None
    review_by: dt.date | None
    valid_until: dt.date | None
    note: str | None = None
    report: int | None = Field(default=None, description="A reader's report: its id, to dismiss it "
                                                          "(POST /api/v1/reports/{id}/dismiss)")
    served_version: int | None = Field(default=None, description="A reader's report: the version served now, when it "
                                       "is not the reported one (``version``, title and dates are the reported version's)")


class ReportDismissed(BaseModel):
    """A reader's report an owner closed as unfounded, without a new version."""

    report: int
    document: str
    reported: str = Field(description="wrong or outdated: what the reader said")
    reason: str = Field(description="Why the owner dismissed it")
    dismissed_by: str
    dismissed_at: dt.datetime


class ReviewQueue(BaseModel):
    data: list[ReviewItem]
    count: int
