"""What the audit log commits to about the taxonomy: the one definition, used when an event is recorded
and when ``kb audit verify`` re-derives it from the database.

A version commits to the concept ids it names (its provenance record), but how a card reads those
ids — the label shown, the replacement a merged concept is read as, the broader concepts a facet or
"what applies to me" selects it by, the version field its scheme fills — lives in the taxonomy's own
rows. An operator who edits them (points ``replaced_by`` elsewhere, rewrites a label) changes what
signed cards say without changing what was signed. So every event that changes the taxonomy carries,
as the change leaves them, the commitment of each concept it changed under ``concept_state`` and of
its scheme under ``scheme_state``, and the newest commitment of each in the log must equal the one
computed from the rows now (``kb.documents.integrity``).

A concept's commitment is ``{id, scheme, key, uri, broader, status, replaced_by, labels, related}``:
ids as stored (versions name concepts by id), ``labels`` the SHA-256 of its labels in a canonical
order, ``related`` the sorted ids of its related concepts. A deleted concept's is ``{id, deleted: true}``.
A scheme's is ``{id, key, uri, field, titles}`` (``titles`` a SHA-256 as well).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_, select
from sqlmodel import Session

from kb.taxonomy.models import Concept, ConceptLabel, ConceptRelation, ConceptScheme

CONCEPT_STATE = "concept_state"
SCHEME_STATE = "scheme_state"
"""The payload keys of taxonomy commitments (``kb.provenance.replay`` keeps the newest of each id)."""


def _sha256(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def labels_digest(labels: Iterable[tuple[str, str, str]]) -> str:
    """SHA-256 of a concept's labels as sorted ``[language, kind, text]`` triples."""
    return _sha256(sorted([str(language), str(getattr(kind, "value", kind)), str(text)] for language, kind, text in labels))


def concept_commitment(concept: Concept, labels: Iterable[tuple[str, str, str]], related: Iterable[int]) -> dict[str, Any]:
    """What the log commits to about ``concept``, given its labels and the ids of its related concepts."""
    return {"id": concept.id, "scheme": concept.scheme_id, "key": concept.key, "uri": concept.uri,
            "broader": concept.broader_id, "status": str(getattr(concept.status, "value", concept.status)),
            "replaced_by": concept.replaced_by_id, "labels": labels_digest(labels), "related": sorted(set(related))}


def scheme_commitment(scheme: ConceptScheme) -> dict[str, Any]:
    """What the log commits to about ``scheme``: which version field its concepts fill, and its titles."""
    try:
        titles: Any = json.loads(scheme.titles or "{}")
    except ValueError:  # edited outside kb: its digest differs from any kb committed to, and verify names it
        titles = ["not JSON", scheme.titles]
    return {"id": scheme.id, "key": scheme.key, "uri": scheme.uri, "field": str(getattr(scheme.field, "value", scheme.field)),
            "titles": _sha256(titles)}


def deleted(concept_id: int) -> dict[str, Any]:
    """The commitment of a concept kb deleted: a row with its id afterwards was put there outside kb."""
    return {"id": concept_id, "deleted": True}


def concept_state(session: Session, concept_ids: Iterable[int]) -> list[dict[str, Any]]:
    """The commitments of ``concept_ids`` as the (flushed) rows are now, in id order; a missing id is deleted."""
    ids = sorted(set(concept_ids))
    if not ids:
        return []
    concepts = {c.id: c for c in session.execute(select(Concept).where(Concept.id.in_(ids))).scalars()}  # type: ignore[union-attr]
    labels: dict[int, list[tuple[str, str, str]]] = {}
    for concept_id, language, kind, text in session.execute(
            select(ConceptLabel.concept_id, ConceptLabel.language, ConceptLabel.kind, ConceptLabel.text)
            .where(ConceptLabel.concept_id.in_(ids))):  # type: ignore[attr-defined]
        labels.setdefault(concept_id, []).append((language, kind, text))
    related: dict[int, set[int]] = {}
    for low, high in session.execute(select(ConceptRelation.concept_id, ConceptRelation.related_id).where(
            or_(ConceptRelation.concept_id.in_(ids), ConceptRelation.related_id.in_(ids)))):  # type: ignore[attr-defined]
        related.setdefault(low, set()).add(high)
        related.setdefault(high, set()).add(low)
    return [concept_commitment(concepts[i], labels.get(i, ()), related.get(i, ())) if i in concepts else deleted(i)
            for i in ids]


def all_concepts(session: Session) -> dict[str, dict[str, Any]]:
    """Every concept's commitment as the database holds it now, by id (as text: the log's keys)."""
    ids = list(session.execute(select(Concept.id)).scalars())
    return {str(c["id"]): c for c in concept_state(session, ids)}


def all_schemes(session: Session) -> dict[str, dict[str, Any]]:
    """Every scheme's commitment as the database holds it now, by id (as text)."""
    return {str(s.id): scheme_commitment(s) for s in session.execute(select(ConceptScheme)).scalars()}
