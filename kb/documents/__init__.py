"""Curated documents: versions, approval with four eyes, provenance record, import, history, PROV.

What other packages may use (import-linter lets ``kb.social`` use only this surface): the read
functions and public schemas re-exported here. Must not import social, search or experts.
"""

from kb.documents.schemas import DocumentPublic, ProvenanceCard, VersionPublic
from kb.documents.service import (
    Published, currently_valid, document_ids_for_slugs, expired, get_document, provenance_card, published,
    published_chunks, review_overdue, tags_of, translation_group,
)

__all__ = [
    "DocumentPublic", "ProvenanceCard", "VersionPublic", "Published", "currently_valid", "document_ids_for_slugs",
    "expired", "get_document", "provenance_card", "published", "published_chunks", "review_overdue", "tags_of",
    "translation_group",
]
