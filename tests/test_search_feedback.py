"""Hybrid search asks twice (relevance feedback): what it adds, and what may never feed it.

A hashing embedder stands in for the model (tests/fakes.py): a passage that shares no word with the
query scores 0 against it, so only the feedback can bring it in.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from kb.search import service
from kb.search.indexer import SearchIndexes
from kb.search.interfaces import SearchFilters
from kb.search.schemas import Mode
from tests.factories import make_cast, make_document
from tests.fakes import HashingEmbedder


@pytest.fixture
def indexed(settings, database):  # noqa: ANN001, ANN201
    cast = make_cast(database)
    make_document(database, cast, slug="housing", state="approved",
                  body="# Housing\n\nRent support allowance for tenants with a low income.")
    make_document(database, cast, slug="tenancy-deposit", state="approved",
                  body="# Deposits\n\nTenants get deposit protection and rent support from the allowance office.")
    make_document(database, cast, slug="failover", state="approved", audience="internal",
                  body="# Failover\n\nPromote the standby database when the primary fails.")

    built: dict[int, SearchIndexes] = {}

    def build(passages: int) -> SearchIndexes:
        if passages in built:
            return built[passages]
        indexes = built[passages] = SearchIndexes(settings.model_copy(update={"search_feedback_passages": passages,
                                                            "public_multilingual": False}),
                                embedder=HashingEmbedder(dimension=1024), slot=settings.data_dir / f"index-{passages}")
        with database.session() as session:
            indexes.rebuild(session)
        return indexes

    yield build
    for indexes in built.values():
        indexes.close()


def found(database, indexes: SearchIndexes, query: str) -> list[str]:  # noqa: ANN001
    with database.session() as session:
        ranked = service.ranked_documents(session, indexes, query, Mode.hybrid, SearchFilters(include_internal=True),
                                          None, 10)
        slugs = {item.document.id: item.document.slug for item in service.documents.published(session)}
    return [slugs.get(f.document_id, "?") for f in ranked]


def test_feedback_finds_a_page_that_shares_no_word_with_the_query(database, indexed) -> None:  # noqa: ANN001
    assert found(database, indexed(0), "housing") == ["housing"]
    assert found(database, indexed(10), "housing") == ["housing", "tenancy-deposit"]
    assert found(database, indexed(10), "standby database") == ["failover"]  # nothing to learn: nothing added


def test_a_stale_index_entry_never_feeds_the_second_question(database, indexed) -> None:  # noqa: ANN001
    indexes = indexed(10)
    # Withdraw "housing" behind the index's back (no audit event): its entry is stale, the database says no.
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE document SET current_version_id = NULL WHERE slug = 'housing'"))
    assert found(database, indexes, "housing") == []
