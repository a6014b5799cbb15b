"""Curated documents: versions, approval with four eyes, provenance record, import, history, PROV.

Inside, from the top: ``api`` (HTTP routes) > ``actions`` (the use cases every surface calls) >
``importing`` | ``reading`` | ``published`` | ``insights`` > ``service`` (look-ups, per-object
rules, lifecycle) > ``schemas`` > ``models`` (import-linter keeps that order).

What other packages may use (import-linter lets ``kb.social`` use only this surface): the read
functions and public schemas re-exported here. Must not import social, search or experts.
"""

from kb.documents.insights import approval_lead_times, overdue_by_space
from kb.documents.published import (
    UNPUBLISHED_ACTIONS, ApprovedFacts, ChunkFacts, Published, approved_facts, approved_versions_by, chunks_by_id, concepts_of,
    create_promoted, document_for_social, group_ids,
    document_ids_for_slugs, facts_of, people_of, promoted_document, publication_seq, published, published_chunk_facts, has_open_report, report_state, request_review,
    translation_groups,
)
from kb.documents.reading import provenance_card
from kb.documents.schemas import DocumentCreate, DocumentPublic, ProvenanceCard, VersionPublic
from kb.documents.approval import second_review
from kb.documents.service import expired, get_document, review_overdue, sha256_text, tags_of, visible_document

__all__ = [
    "UNPUBLISHED_ACTIONS", "ApprovedFacts", "approved_facts", "ChunkFacts", "concepts_of", "DocumentCreate", "DocumentPublic",
    "ProvenanceCard", "Published", "VersionPublic",
    "approval_lead_times", "approved_versions_by", "chunks_by_id", "create_promoted",
    "document_for_social", "document_ids_for_slugs", "expired", "facts_of", "get_document", "overdue_by_space",
    "people_of", "promoted_document", "provenance_card", "publication_seq", "published", "published_chunk_facts", "has_open_report", "report_state", "request_review", "review_overdue",
    "second_review", "sha256_text", "tags_of", "visible_document",
    "translation_groups", "group_ids",
]
