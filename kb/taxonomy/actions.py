"""Use cases of the taxonomy: the one door the API, the web pages and the CLI go through (issue 20).

Each action checks the actor against its row of ``kb.permissions`` and runs the service in one
transaction with its audit event. Owners (of any space) and admins maintain the vocabulary; every
signed-in person reads it. Must not import the web framework or the ``api`` module.
"""

from __future__ import annotations

from sqlmodel import Session

from kb.accounts.actions import request_public
from kb.accounts.models import GovernanceRequest
from kb.accounts.schemas import GovernanceRequestPublic
from kb.actors import Actor
from kb.db import transaction
from kb.permissions import authorize, may
from kb.errors import ErrorCode, KbError
from kb.taxonomy import service, skos
from kb.taxonomy.schemas import (
    ConceptCreate, ConceptPublic, ConceptUpdate, SchemeCreate, SchemePublic, SchemesPublic, SkosImported,
)
from kb.taxonomy.skos import SkosFormat as SkosFormat  # re-exported: the surfaces name the formats through the door

MAX_SKOS_BYTES = 5 * 2**20
"""The largest SKOS document an import takes (a public vocabulary of thousands of concepts is well under)."""


def _concept(session: Session, scheme: str, key: str, language: str | None, actor: Actor | None = None) -> ConceptPublic:
    concept = service.get_concept(session, scheme, key)
    found = service.vocabulary(session).public(concept.id, language, service.use_counts(session).get(concept.id, 0))  # type: ignore[arg-type]
    return found if actor is None or may(actor, "concept.delete") else found.model_copy(update={"used_by_versions": None})


def _counts_for(actor: Actor, schemes: list[SchemePublic]) -> list[SchemePublic]:
    """How many versions name each concept counts drafts of every space: only those who maintain the
    taxonomy see it (a reader would learn of drafts they may not see; found by review)."""
    if may(actor, "concept.delete"):
        return schemes
    return [s.model_copy(update={"concepts": [c.model_copy(update={"used_by_versions": None}) for c in s.concepts]})
            for s in schemes]


def list_schemes(session: Session, actor: Actor, *, language: str | None = None) -> SchemesPublic:
    """Every scheme with its concepts, labels in ``language`` (English where a concept has none)."""
    authorize(actor, "taxonomy.read")
    data = _counts_for(actor, service.schemes_public(session, language))
    return SchemesPublic(data=data, count=len(data))


def read_scheme(session: Session, actor: Actor, *, scheme: str, language: str | None = None) -> SchemePublic:
    """Raises: KbError NOT_FOUND."""
    authorize(actor, "taxonomy.read")
    service.get_scheme(session, scheme)
    return next(s for s in _counts_for(actor, service.schemes_public(session, language)) if s.key == scheme)


def read_concept(session: Session, actor: Actor, *, scheme: str, key: str, language: str | None = None) -> ConceptPublic:
    """Raises: KbError NOT_FOUND."""
    authorize(actor, "taxonomy.read")
    return _concept(session, scheme, key, language, actor)


def create_scheme(session: Session, actor: Actor, *, data: SchemeCreate) -> SchemePublic:
    """Audited as ``concept_scheme.create``. Raises: KbError ALREADY_EXISTS."""
    authorize(actor, "concept_scheme.create")
    with transaction(session):
        service.create_scheme(session, actor=actor, data=data)
    return read_scheme(session, actor, scheme=data.key)


def create_concept(session: Session, actor: Actor, *, scheme: str, data: ConceptCreate) -> ConceptPublic:
    """Audited as ``concept.create``. Raises: KbError NOT_FOUND, ALREADY_EXISTS, VALIDATION_ERROR."""
    authorize(actor, "concept.create")
    with transaction(session):
        service.create_concept(session, actor=actor, scheme_key=scheme, data=data)
    return _concept(session, scheme, data.key, None)


def update_concept(session: Session, actor: Actor, *, scheme: str, key: str, data: ConceptUpdate) -> ConceptPublic:
    """Audited as ``concept.update`` when something changed. Raises: KbError NOT_FOUND, VALIDATION_ERROR."""
    authorize(actor, "concept.update")
    with transaction(session):
        service.update_concept(session, actor=actor, scheme_key=scheme, key=key, data=data)
    return _concept(session, scheme, key, None)


def merge_concept(session: Session, actor: Actor, *, scheme: str, key: str,
                  into: str) -> ConceptPublic | GovernanceRequestPublic:
    """Audited as ``concept.merge``; returns the concept merged into, or, when approved pages name the
    concept, the pending governance request a second person decides (``governance.request``).

    Raises: KbError NOT_FOUND, VALIDATION_ERROR, ILLEGAL_TRANSITION, CONFLICT (the same merge waits)."""
    authorize(actor, "concept.merge")
    with transaction(session):
        result = service.merge_concept(session, actor=actor, scheme_key=scheme, key=key, into=into)
    if isinstance(result, GovernanceRequest):
        return request_public(session, actor, result)
    return _concept(session, scheme, into, None)


def deprecate_concept(session: Session, actor: Actor, *, scheme: str, key: str) -> ConceptPublic:
    """Audited as ``concept.deprecate``. Raises: KbError NOT_FOUND, ILLEGAL_TRANSITION."""
    authorize(actor, "concept.deprecate")
    with transaction(session):
        service.deprecate_concept(session, actor=actor, scheme_key=scheme, key=key)
    return _concept(session, scheme, key, None)


def delete_concept(session: Session, actor: Actor, *, scheme: str, key: str) -> None:
    """Audited as ``concept.delete``. Raises: KbError NOT_FOUND, CONFLICT (in use)."""
    authorize(actor, "concept.delete")
    with transaction(session):
        service.delete_concept(session, actor=actor, scheme_key=scheme, key=key)


def export_skos(session: Session, actor: Actor, *, format: skos.SkosFormat = "turtle") -> tuple[str, str]:  # noqa: A002
    """The whole taxonomy as SKOS: (text, media type)."""
    authorize(actor, "taxonomy.export")
    return skos.export(service.vocabulary(session), format), skos.MEDIA_TYPES[format]


def import_skos(session: Session, actor: Actor, *, text: str, format: skos.SkosFormat = "turtle",  # noqa: A002
                fields: dict[str, str] | None = None) -> SkosImported:
    """Load SKOS concept schemes (a public vocabulary, or kb's own export): new schemes and concepts are
    created, existing ones (by URI) get the file's labels, broader and related concepts. Every change
    is its own audit event in one transaction. Raises: KbError VALIDATION_ERROR (not SKOS, or no field for a scheme),
    PAYLOAD_TOO_LARGE (over ``MAX_SKOS_BYTES``, or too many concepts)."""
    authorize(actor, "taxonomy.import")
    if len(text.encode("utf-8")) > MAX_SKOS_BYTES:
        raise KbError(ErrorCode.PAYLOAD_TOO_LARGE, f"A SKOS import is at most {MAX_SKOS_BYTES} bytes")
    with transaction(session):
        return skos.load(session, actor, text, format, fields or {})
