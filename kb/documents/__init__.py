"""Curated documents: versions, approval with four eyes, provenance record, import, history, PROV.

What other packages may use (import-linter lets ``kb.social`` use only this surface): the read
functions and public schemas re-exported here. Must not import social, search or experts.
"""

from kb.documents.schemas import DocumentCreate, DocumentPublic, ProvenanceCard, VersionPublic
from kb.documents.service import (
    ChunkFacts, Published, approved_versions_by, chunks_by_id, create_promoted, document_for_social, request_review, currently_valid, document_ids_for_slugs, expired, facts_of, get_document,
    people_of, provenance_card, published, published_chunk_facts, review_overdue, tags_of, translation_groups,
)

__all__ = [
    "ChunkFacts", "approved_versions_by", "create_promoted", "document_for_social", "request_review", "DocumentCreate", "DocumentPublic", "ProvenanceCard", "VersionPublic", "Published", "chunks_by_id", "currently_valid",
    "document_ids_for_slugs", "expired", "facts_of", "get_document", "people_of", "provenance_card", "published",
    "published_chunk_facts", "review_overdue", "tags_of", "translation_groups",
]
