"""The sentences of a public passage for the multilingual encoder (kb.search.sentences): pure, checked by hand."""

from __future__ import annotations

import pytest

from kb.search.sentences import SLOTS, best_per_chunk, chunk_of, mix, sentence_id, split


def test_a_passage_splits_at_sentence_ends_and_short_pieces_join_a_neighbour() -> None:
    assert split("Child benefit is paid every quarter. You can claim it online! Is it taxed? No.") == [
        "Child benefit is paid every quarter.", "You can claim it online!", "Is it taxed? No."]
    assert split("Yes. Child benefit is paid every quarter for each child.") == [
        "Yes. Child benefit is paid every quarter for each child."]  # a short first piece joins the next
    assert split("儿童福利每季度支付。您可以在线申请！好") == ["儿童福利每季度支付。", "您可以在线申请！ 好"]
    assert split("A heading without a stop\n\nA paragraph\nover two lines") == ["A heading without a stop", "A paragraph\nover two lines"]
    assert split("") == [] and split("Short.") == ["Short."]


def test_a_stop_that_ends_no_sentence_does_not_split() -> None:
    # before a lower-case word (in any script) or a digit, after an abbreviation or a single letter
    assert split("Claim online, e.g. through the portal. Rates rose 3.5 percent, etc. également.") == [
        "Claim online, e.g. through the portal.", "Rates rose 3.5 percent, etc. également."]
    assert split("Contact Dr. Smith about it today. The U.S. Department agrees with that view.") == [
        "Contact Dr. Smith about it today.", "The U.S. Department agrees with that view."]
    assert split("Das gilt z. B. drei Monate lang. Danach endet es sofort ganz.") == [
        "Das gilt z. B. drei Monate lang.", "Danach endet es sofort ganz."]
    assert split("Это верно, т.е. дальше так. Потом всё иначе стало.") == [
        "Это верно, т.е. дальше так.", "Потом всё иначе стало."]


def test_a_passage_has_at_most_slots_sentences_grouped_evenly() -> None:
    many = [f"Sentence number {i} is here." for i in range(SLOTS * 2 + 6)]
    parts = split(" ".join(many))
    assert len(parts) == SLOTS
    assert parts[0] == " ".join(many[0:3]) and parts[5] == " ".join(many[15:18])  # the first 6 groups hold 3
    assert parts[6] == " ".join(many[18:20]) and parts[-1] == " ".join(many[-2:])  # the others 2
    assert split(" ".join(many[:SLOTS])) == many[:SLOTS]


def test_sentence_ids_map_back_to_their_passage() -> None:
    assert sentence_id(7, 0) == 7 * SLOTS and sentence_id(7, SLOTS - 1) == 8 * SLOTS - 1
    assert chunk_of(sentence_id(7, 5)) == 7 and chunk_of(sentence_id(8, 0)) == 8
    with pytest.raises(ValueError):
        sentence_id(7, SLOTS)
    with pytest.raises(ValueError):
        sentence_id(2 ** 63 // SLOTS, 0)


def test_a_passage_is_scored_by_its_best_sentence() -> None:
    ranking = [(sentence_id(2, 3), 0.9), (sentence_id(1, 0), 0.8), (sentence_id(2, 0), 0.7), (sentence_id(3, 1), 0.2)]
    assert best_per_chunk(ranking) == [(2, 0.9), (1, 0.8), (3, 0.2)]


def test_mix_weighs_passage_and_best_sentence_and_a_missing_one_takes_the_lowest() -> None:
    passages = [(1, 0.8), (2, 0.6), (3, 0.4)]
    sentences = [(2, 1.0), (4, 0.9), (1, 0.5)]
    # 1: .5·.8 + .5·.5 = .65; 2: .5·.6 + .5·1.0 = .80; 3: .5·.4 + .5·.5 (lowest sentence) = .45;
    # 4: .5·.4 (lowest passage) + .5·.9 = .65 — a tie with 1, which was seen first
    assert [(item, round(score, 4)) for item, score in mix(passages, sentences)] == [(2, 0.8), (1, 0.65), (4, 0.65), (3, 0.45)]
    assert mix(passages, [], 0.0) == [(1, 0.8), (2, 0.6), (3, 0.4)]
    assert mix([], []) == []


def test_the_sentence_index_filters_inside_the_engine_like_the_passage_index(tmp_path) -> None:  # noqa: ANN001
    """Sentence entries carry their passage's filter fields: expired, future, internal, other spaces,
    languages and tags are left out before top-k, whatever the similarity."""
    import numpy as np

    from kb.search.indexer import sentence_entries
    from kb.search.interfaces import IndexedChunk, SearchFilters
    from kb.search.vector import FaissVectorIndex

    today = 740_000
    chunks = [IndexedChunk(1, 10, 100, 1, "Open", ("Open",), "Valid and public. Still valid here.", ("a",), "en", "public"),
              IndexedChunk(2, 11, 101, 1, "Old", ("Old",), "Expired long ago now. Really old text.", (), "en", "public",
                           valid_until_day=today - 1),
              IndexedChunk(3, 12, 102, 1, "Later", ("Later",), "Valid only from tomorrow on.", (), "en", "public",
                           valid_from_day=today + 1),
              IndexedChunk(4, 13, 103, 2, "Other", ("Other",), "In another space, in Dutch.", (), "nl", "public")]
    entries, texts = sentence_entries(chunks)
    index = FaissVectorIndex(tmp_path / "sentences", 4)
    index.upsert(entries, np.tile(np.array([[1, 0, 0, 0]], dtype=np.float32), (len(entries), 1)))
    found = {chunk_of(sid) for sid, _ in index.search(np.array([1, 0, 0, 0], dtype=np.float32), SearchFilters(on_day=today), 10)}
    assert found == {1, 4}
    narrow = SearchFilters(on_day=today, spaces=frozenset({1}), languages=frozenset({"en"}), tags=frozenset({"a"}))
    assert {chunk_of(sid) for sid, _ in index.search(np.array([1, 0, 0, 0], dtype=np.float32), narrow, 10)} == {1}
    assert len(texts) == len(entries) == 6 and all(e.document_id == c.document_id for e in entries for c in chunks
                                                   if c.chunk_id == chunk_of(e.chunk_id))
