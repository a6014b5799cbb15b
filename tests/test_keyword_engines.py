"""Both keyword engines honour the KeywordIndex contract (tantivy, the default, and whoosh)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kb.config import KeywordEngine
from kb.search.indexer import make_keyword_index
from kb.search.interfaces import IndexedChunk, SearchFilters, counted_terms, keyword_fields

TODAY = dt.date(2026, 11, 23).toordinal()

CHUNKS = [
    IndexedChunk(1, 10, 100, 1, "Child benefit", ("Child benefit", "Who can get it"),
                 "You can get child benefit for children under 18.", ("family",), "en", "public"),
    IndexedChunk(2, 11, 101, 1, "Kinderbijslag", ("Kinderbijslag",), "U krijgt kinderbijslag voor uw kinderen.",
                 ("gezin",), "nl", "public"),
    IndexedChunk(3, 12, 102, 2, "Failover runbook", ("Failover runbook",),
                 "Internal: the benefit database failover for children records.", ("runbook",), "en", "internal"),
    IndexedChunk(4, 13, 103, 1, "Winter fuel", ("Winter fuel",), "Expired benefit for heating.", (), "en", "public",
                 valid_until_day=TODAY - 10),
    IndexedChunk(5, 14, 104, 1, "Future scheme", ("Future scheme",), "A future benefit for heating.", (), "en", "public",
                 valid_from_day=TODAY + 10),
]


@pytest.fixture(params=[KeywordEngine.tantivy, KeywordEngine.whoosh], ids=["tantivy", "whoosh"])
def index(request: pytest.FixtureRequest, tmp_path: Path):  # noqa: ANN201
    return indexed(request.param, tmp_path, CHUNKS)


def indexed(engine: KeywordEngine, path: Path, chunks: list[IndexedChunk]):  # noqa: ANN201
    keyword = make_keyword_index(engine, path / engine.value)
    keyword.upsert(chunks)
    keyword.commit()
    return keyword


def ids(ranked) -> list[int]:  # noqa: ANN001
    return [chunk_id for chunk_id, _ in ranked]


def test_public_defaults_hide_internal_expired_and_future(index) -> None:  # noqa: ANN001
    public = SearchFilters(on_day=TODAY)
    assert ids(index.search("benefit children", public, 10)) == [1]
    everything = SearchFilters(include_internal=True, on_day=TODAY)
    assert set(ids(index.search("benefit children", everything, 10))) == {1, 3}


@pytest.mark.parametrize("attack", [
    "benefit OR audience:internal", "state:draft OR benefit", "audience:internal", "*", "id:3", "benefit^100 runbook",
    "title:Failover", "(benefit) AND NOT child", '"failover"~2', "benef*", "runbook\\", "((((", "‮benefit",
])
def test_query_syntax_is_never_parsed(index, attack: str) -> None:  # noqa: ANN001
    found = ids(index.search(attack, SearchFilters(on_day=TODAY), 10))
    assert 3 not in found and 4 not in found and 5 not in found


def test_filters_apply_before_top_k(index) -> None:  # noqa: ANN001
    # the internal chunk is the best match for "failover", yet limit=1 still finds the public one
    assert ids(index.search("failover benefit", SearchFilters(on_day=TODAY), 1)) == [1]


def test_filters_never_change_a_hits_score(index) -> None:  # noqa: ANN001
    """Filters select; they add nothing to the BM25 score (tantivy: bare ranges, zero-score term clauses)."""
    widest = dict(index.search("benefit children", SearchFilters(include_internal=True, on_day=TODAY), 10))
    for filters in (SearchFilters(on_day=TODAY), SearchFilters(spaces=frozenset({1}), on_day=TODAY),
                    SearchFilters(tags=frozenset({"family"}), on_day=TODAY),
                    SearchFilters(languages=frozenset({"en"}), include_internal=True, on_day=TODAY)):
        found = dict(index.search("benefit children", filters, 10))
        assert 1 in found
        assert all(found[cid] == pytest.approx(widest[cid], rel=1e-6) for cid in found)


def test_dutch_stemming_and_language_filter(index) -> None:  # noqa: ANN001
    assert ids(index.search("kinderen", SearchFilters(on_day=TODAY), 10, language="nl")) == [2]
    only_nl = SearchFilters(languages=frozenset({"nl"}), on_day=TODAY)
    assert ids(index.search("kinderbijslag benefit", only_nl, 10)) == [2]


def test_space_and_tag_filters(index) -> None:  # noqa: ANN001
    assert ids(index.search("benefit", SearchFilters(include_internal=True, spaces=frozenset({2}), on_day=TODAY), 10)) == [3]
    assert ids(index.search("family", SearchFilters(tags=frozenset({"family"}), on_day=TODAY), 10)) == [1]


def test_delete_and_upsert_are_idempotent(index) -> None:  # noqa: ANN001
    index.delete_documents([10])
    index.commit()
    assert 1 not in index.chunk_ids()
    index.upsert(CHUNKS[:1])
    index.upsert(CHUNKS[:1])
    index.commit()
    assert sorted(index.chunk_ids()) == [1, 2, 3, 4, 5]
    assert ids(index.search("child", SearchFilters(on_day=TODAY), 10)) == [1]


def test_empty_and_stopword_queries_return_nothing(index) -> None:  # noqa: ANN001
    assert index.search("", SearchFilters(on_day=TODAY), 10) == []
    assert index.search("!!! ???", SearchFilters(on_day=TODAY), 10) == []


def test_terms_and_statistics_use_the_language_fields(index) -> None:  # noqa: ANN001
    assert index.terms("The children's benefits", "en") == ["children", "benefit"]
    assert index.terms("De kinderen krijgen", "nl") == ["kinder", "krijg"]
    total, frequencies = index.term_statistics("en", ["benefit", "children", "absent"])
    assert total == len(CHUNKS) and frequencies == {"benefit": 4, "children": 2, "absent": 0}


def test_expansion_terms_find_what_the_query_words_cannot(index) -> None:  # noqa: ANN001
    public = SearchFilters(on_day=TODAY)
    assert ids(index.search("18", public, 10)) == [1]
    # "heat" (stem of heating) is in no query word; as a feedback term it reaches only admitted chunks
    expanded = ids(index.search("18", public, 10, expansion=[("en", "heat", 0.5)]))
    assert expanded == [1]  # the expired and future heating chunks stay filtered out
    everything = SearchFilters(include_internal=True, on_day=TODAY + 20)
    assert set(ids(index.search("18", everything, 10, expansion=[("en", "heat", 0.5)]))) == {1, 5}


def test_the_body_field_holds_the_whole_passage_title_and_headings_included() -> None:
    chunk = CHUNKS[0]
    assert keyword_fields(chunk) == {
        "title": "Child benefit",
        "headings": "Who can get it",
        "body": "Child benefit\nWho can get it\nYou can get child benefit for children under 18.",
    }
    untitled = IndexedChunk(9, 19, 109, 1, "", (), "Only text.", (), "en", "public")
    assert keyword_fields(untitled) == {"title": "", "headings": "", "body": "Only text."}


def test_counted_terms_keep_order_count_repeats_and_cap_distinct_terms() -> None:
    assert counted_terms(["pump", "valve", "pump", "seal", "pump"], 64) == [("pump", 3), ("valve", 1), ("seal", 1)]
    assert counted_terms(["pump", "valve", "pump", "seal"], 2) == [("pump", 2), ("valve", 1)]
    assert counted_terms([], 64) == []


def test_over_the_cap_a_query_keeps_the_terms_that_weigh_most_in_bm25() -> None:
    """idf = ln(1 + (N − df + 0.5)/(df + 0.5)), N = 10: a (df 10) 0.0465, b (df 1) 1.992, c (df 5) 0.693."""
    df = {"a": 10, "b": 1, "c": 5}.__getitem__
    assert counted_terms(["a", "b", "a", "c", "a"], 2, df, 10) == [("b", 1), ("c", 1)]  # a: 3 × 0.0465 = 0.14
    assert counted_terms(["a"] * 20 + ["b", "c"], 2, df, 10) == [("a", 20), ("b", 1)]  # a: 20 × 0.0465 = 0.93
    assert counted_terms(["a", "b", "c"], 3, df, 10) == [("a", 1), ("b", 1), ("c", 1)]  # under the cap: all, in order
    # over the cap, a term no passage holds (df 0: the highest idf) never pushes out one that matters
    unknown = {"a": 10, "b": 1, "x": 0, "y": 0}.__getitem__
    assert counted_terms(["x", "y", "a", "b"], 2, unknown, 10) == [("a", 1), ("b", 1)]


@pytest.mark.parametrize("engine", list(KeywordEngine))
def test_a_pasted_line_of_unknown_ids_still_finds_the_word_that_matters(engine: KeywordEngine, tmp_path: Path) -> None:
    keyword = indexed(engine, tmp_path, CHUNKS)
    pasted = "benefit " + " ".join(f"zq{n}x" for n in range(70))  # 71 distinct terms, 70 of them held nowhere
    assert 1 in ids(keyword.search(pasted, SearchFilters(include_internal=True, on_day=TODAY), 10))


@pytest.mark.parametrize("engine", list(KeywordEngine))
def test_a_word_the_query_repeats_weighs_more(engine: KeywordEngine, tmp_path: Path) -> None:
    """BM25's query term frequency, as Lucene and bm25s count it: the same two passages, each holding
    one of two equally rare words, swap places when the query says the other word twice."""
    keyword = indexed(engine, tmp_path, [
        IndexedChunk(1, 1, 1, 1, "Note", ("Note",), "Servicing the hydraulic pump monthly.", (), "en", "public"),
        IndexedChunk(2, 2, 2, 1, "Note", ("Note",), "Servicing the pressure valve monthly.", (), "en", "public")])
    assert ids(keyword.search("pump pump valve", SearchFilters(on_day=TODAY), 10)) == [1, 2]
    assert ids(keyword.search("pump valve valve", SearchFilters(on_day=TODAY), 10)) == [2, 1]


@pytest.mark.parametrize("engine", list(KeywordEngine))
def test_a_word_in_the_title_adds_to_the_same_word_in_the_body(engine: KeywordEngine, tmp_path: Path) -> None:
    """Both bodies read "… guide … servicing …" with "pump" once and the same length; only one title says it."""
    keyword = indexed(engine, tmp_path, [
        IndexedChunk(1, 1, 1, 1, "Valve guide", ("Valve guide",), "pump servicing", (), "en", "public"),
        IndexedChunk(2, 2, 2, 1, "Pump guide", ("Pump guide",), "valve servicing", (), "en", "public")])
    ranked = keyword.search("pump", SearchFilters(on_day=TODAY), 10)
    assert ids(ranked) == [2, 1] and ranked[0][1] > ranked[1][1]


@pytest.mark.parametrize("engine", [KeywordEngine.tantivy, KeywordEngine.whoosh], ids=["tantivy", "whoosh"])
def test_concept_filters_and_concepts_named_by_the_query(engine: KeywordEngine, tmp_path: Path) -> None:
    """Issue 20: facets are filters inside the engine (groups: any within, all across); a concept the
    query names by a label makes a chunk carrying it score, without the words."""
    chunks = [
        IndexedChunk(1, 10, 100, 1, "Rent help", (), "Help with the monthly costs of a home.", (), "en", "public", concepts=(7,)),
        IndexedChunk(2, 11, 101, 1, "Study rent", (), "Help with the monthly costs of a room.", (), "en", "public", concepts=(7, 8)),
        IndexedChunk(3, 12, 102, 1, "Costs", (), "Help with the monthly costs of a house.", (), "en", "public"),
    ]
    keyword = indexed(engine, tmp_path, chunks)
    plain = SearchFilters(on_day=TODAY)
    assert set(ids(keyword.search("monthly costs", plain, 10))) == {1, 2, 3}
    assert set(ids(keyword.search("monthly costs", SearchFilters(on_day=TODAY, concepts=(frozenset({7}),)), 10))) == {1, 2}
    assert ids(keyword.search("monthly costs", SearchFilters(on_day=TODAY, concepts=(frozenset({7}), frozenset({8}))), 10)) == [2]
    assert set(ids(keyword.search("monthly costs", SearchFilters(on_day=TODAY, concepts=(frozenset({8, 9}),)), 10))) == {2}
    assert ids(keyword.search("monthly costs", SearchFilters(on_day=TODAY, concepts=(frozenset({99}),)), 10)) == []
    # "renter" is in no passage; the query names concept 8 by its label
    assert ids(keyword.search("renter", plain, 10)) == []
    assert ids(keyword.search("renter", SearchFilters(on_day=TODAY, boost_concepts=frozenset({8})), 10)) == [2]
    boosted = keyword.search("monthly costs renter", SearchFilters(on_day=TODAY, boost_concepts=frozenset({8})), 10)
    assert ids(boosted)[0] == 2
    # the boost is no filter: equal filters with and without it
    assert SearchFilters(on_day=TODAY, boost_concepts=frozenset({8})) == plain
