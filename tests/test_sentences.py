"""The sentences of a public passage for the multilingual encoder (kb.search.sentences): pure, checked by hand."""

from __future__ import annotations

import pytest

from kb.search.sentences import SLOTS, best_per_chunk, chunk_of, mix, sentence_id, split


def test_a_passage_splits_at_sentence_ends_and_short_pieces_join_the_one_before() -> None:
    assert split("Child benefit is paid every quarter. You can claim it online! Is it taxed? No.") == [
        "Child benefit is paid every quarter.", "You can claim it online!", "Is it taxed? No."]
    # a stop before a lower-case word or a digit is not an end: "e.g. the", "3.5"
    assert split("Claim online, e.g. through the portal. Rates rose 3.5 percent this year.") == [
        "Claim online, e.g. through the portal.", "Rates rose 3.5 percent this year."]
    assert split("儿童福利每季度支付。您可以在线申请！好") == ["儿童福利每季度支付。", "您可以在线申请！ 好"]
    assert split("A heading without a stop\n\nA paragraph\nover two lines") == ["A heading without a stop", "A paragraph\nover two lines"]
    assert split("") == [] and split("Short.") == ["Short."]


def test_a_passage_has_at_most_slots_sentences_the_rest_joins_the_last() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(SLOTS + 6))
    parts = split(text)
    assert len(parts) == SLOTS and parts[-1].startswith(f"Sentence number {SLOTS - 1} ") and parts[-1].endswith(f"{SLOTS + 5} is here.")


def test_sentence_ids_map_back_to_their_passage() -> None:
    assert sentence_id(7, 0) == 7 * SLOTS and sentence_id(7, SLOTS - 1) == 8 * SLOTS - 1
    assert chunk_of(sentence_id(7, 5)) == 7 and chunk_of(sentence_id(8, 0)) == 8
    with pytest.raises(ValueError):
        sentence_id(7, SLOTS)


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
