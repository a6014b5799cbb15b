"""Per-process index slots, crash-safe vector files, drift reports and their repair (issue 8)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from kb.cli import app as cli
from kb.search.indexer import SearchIndexes, SlotInUse, shared_embedder, slot_dirs, slot_in_use, to_indexed
from tests.factories import make_cast, make_document
from tests.fakes import CountingEmbedder


@pytest.fixture
def corpus(database):  # noqa: ANN001, ANN201
    cast = make_cast(database)
    for slug, audience in (("child-benefit", "public"), ("housing", "public"), ("failover", "internal")):
        make_document(database, cast, slug=slug, state="approved", audience=audience,
                      body=f"# {slug}\n\nFirst passage about {slug}.\n\n## More\n\nSecond passage about {slug}.")
    return cast


def test_each_holder_gets_its_own_slot_and_a_released_slot_is_reused(settings) -> None:  # noqa: ANN001
    first, second = SearchIndexes(settings), SearchIndexes(settings)
    assert (first.root.name, second.root.name) == ("slot-0", "slot-1")
    assert slot_in_use(first.root) and slot_in_use(second.root)
    with pytest.raises(SlotInUse):
        SearchIndexes(settings, slot=first.root)
    first.close()
    assert not slot_in_use(first.root)
    third = SearchIndexes(settings)
    assert third.root.name == "slot-0"
    assert [p.name for p in slot_dirs(settings.index_root)] == ["slot-0", "slot-1"]
    second.close()
    third.close()


def test_a_killed_holder_leaves_its_slot_free(settings) -> None:  # noqa: ANN001
    code = ("import sys, time; from pathlib import Path; from kb.search.indexer import SlotLock; "
            "lock = SlotLock(Path(sys.argv[1])); assert lock.try_acquire(); print('held', flush=True); time.sleep(60)")
    slot = settings.index_root / "slot-0"
    slot.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", code, str(slot / "lock")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    assert slot_in_use(slot)
    holder.kill()  # SIGKILL: no clean-up code runs
    holder.wait()
    holder.stdout.close()
    assert not slot_in_use(slot)
    SearchIndexes(settings, slot=slot).close()


def test_vector_files_are_one_generation_with_its_sequence(settings, database, corpus) -> None:  # noqa: ANN001
    indexes = SearchIndexes(settings)
    with database.session() as session:
        indexes.catch_up(session)
        head = indexes.last_seq
        vectors = indexes.root / "vectors"
        pointer = json.loads((vectors / "vectors.json").read_text())
        assert pointer["last_seq"] == head and pointer["ntotal"] == indexes.vector.ntotal == 6
        generation = pointer["generation"]
        assert sorted(p.name for p in vectors.iterdir()) == sorted(
            ["vectors.json", f"vectors.{generation}.faiss", f"chunks.{generation}.json"])
        # a crash after a new generation's files were written but before the pointer moved: the old one is used
        (vectors / f"vectors.{generation + 1}.faiss").write_bytes(b"half-written")
        indexes.close()
        reopened = SearchIndexes(settings)
        assert reopened.vector.ntotal == 6 and reopened.last_seq == head
        # lost vector files: the watermark falls back to 0 and catch-up rebuilds what is missing
        reopened.close()
        for path in vectors.iterdir():
            if path.name != "vectors.json":
                path.unlink()
        again = SearchIndexes(settings)
        assert again.last_seq == 0
        again.catch_up(session)
        assert again.check(session).clean and again.vector.ntotal == 6
        again.close()


def test_an_approval_after_the_first_save_writes_a_delta_not_a_generation(settings, database, corpus, monkeypatch) -> None:  # noqa: ANN001
    """Issue 19: the catch-up's save of a change writes the added vectors and removed ids beside the base."""
    from kb.search import vector

    monkeypatch.setattr(vector, "DELTA_MERGE_FRACTION", 1e9)  # at this size the deltas would be merged at once
    indexes = SearchIndexes(settings)
    with database.session() as session:
        indexes.catch_up(session)
    vectors = indexes.root / "vectors"
    base = json.loads((vectors / "vectors.json").read_text())
    make_document(database, corpus, slug="parental-leave", state="approved",
                  body="# Parental leave\n\nNine weeks of paid parental leave.")
    with database.session() as session:
        indexes.catch_up(session)
        head = indexes.last_seq
    pointer = json.loads((vectors / "vectors.json").read_text())
    assert pointer["generation"] == base["generation"] and pointer["last_seq"] == head > base["last_seq"]
    [(number, seq, size)] = pointer["deltas"]
    assert seq == head and (vectors / f"delta.{number}.npz").stat().st_size == size
    assert pointer["ntotal"] == indexes.vector.ntotal == base["ntotal"] + 1
    indexes.close()
    reopened = SearchIndexes(settings)
    with database.session() as session:
        assert reopened.last_seq == head and reopened.check(session).clean
    reopened.close()


def test_check_reports_drift_and_reindex_repairs_it(settings, database, corpus, cli_env, backend) -> None:  # noqa: ANN001
    runner = CliRunner()
    counting = CountingEmbedder(shared_embedder(None))
    indexes = SearchIndexes(settings, embedder=counting)
    with database.session() as session:
        indexes.catch_up(session)
        assert indexes.check(session).clean
        assert runner.invoke(cli, ["index", "check"]).exit_code == 0
        from kb import documents

        published = {item.document.slug: item for item in documents.published(session)}
        # drift by hand: one document missing from the keyword index, a chunk that does not exist
        # in either index, and an audience flipped in the database behind kb's back (stale entries)
        indexes.keyword.delete_documents([published["housing"].document.id])
        ghost = to_indexed(published["child-benefit"])[0]
        from dataclasses import replace

        ghost = replace(ghost, chunk_id=999_999)
        indexes.keyword.upsert([ghost])
        indexes.keyword.commit()
        indexes.vector.upsert([ghost], counting.encode([ghost.text]))
        indexes.vector.save(indexes.last_seq)
    with database.session() as session, session.begin():
        session.execute(text("UPDATE document_version SET audience = 'internal' WHERE id = :v"),
                        {"v": published["child-benefit"].version.id})
    with database.session() as session:
        drift = indexes.check(session)
    assert drift.missing_keyword == {c.id for c in published["housing"].chunks}
    assert drift.extra_keyword == drift.extra_vector == {999_999}
    assert drift.stale_keyword == drift.stale_vector == {c.id for c in published["child-benefit"].chunks}
    assert not drift.missing_vector
    indexes.close()

    report = runner.invoke(cli, ["index", "check"])
    assert report.exit_code == 3
    assert "keyword missing 2, extra 1, stale 2; vector missing 0, extra 1, stale 2" in report.output

    repaired = runner.invoke(cli, ["reindex"])
    assert repaired.exit_code == 0, repaired.output
    assert "slot-0: indexed 6 chunks" in repaired.output
    assert runner.invoke(cli, ["index", "check"]).exit_code == 0

    # the repair re-used the vectors it held: rebuilding in-process encodes nothing new
    indexes = SearchIndexes(settings, embedder=counting)
    before = counting.encoded
    with database.session() as session:
        assert indexes.rebuild(session) == 6
        assert counting.encoded == before
        assert indexes.check(session).clean
    indexes.close()


def test_reindex_asks_a_running_holder_to_rebuild(settings, database, corpus, cli_env) -> None:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from kb.app import create_app

    fast = settings.model_copy(update={"index_catch_up_seconds": 0.1})
    with TestClient(create_app(fast, database=database)) as client:
        indexes = client.app.state.search
        indexes.keyword.clear()
        indexes.keyword.commit()
        with database.session() as session:
            assert indexes.check(session).missing_keyword
        result = CliRunner().invoke(cli, ["reindex", "--wait", "60"])
        assert result.exit_code == 0 and "slot-0: in use by a running process, which rebuilt it" in result.output
        with database.session() as session:
            assert indexes.check(session).clean


def test_background_catch_up_sees_changes_made_elsewhere(settings, database, corpus) -> None:  # noqa: ANN001
    """Another process's change (here: written with no subscriber) reaches this app within the interval."""
    from fastapi.testclient import TestClient

    from kb.app import create_app
    from kb.db import Database

    fast = settings.model_copy(update={"index_catch_up_seconds": 0.1})
    with TestClient(create_app(fast, database=database)) as client:
        elsewhere = Database(settings)  # its own event bus: nobody in this process listens to it
        make_document(elsewhere, corpus, slug="parental-leave", state="approved",
                      body="# Parental leave\n\nNine weeks of paid parental leave.")
        elsewhere.dispose()
        deadline = time.monotonic() + 30
        found = False
        while time.monotonic() < deadline and not found:
            hits = client.get("/api/v1/search", params={"q": "paid parental leave weeks"},
                              headers=corpus["reader"].headers).json()["data"]
            found = any(h["document"] == "parental-leave" for h in hits)
            time.sleep(0.05)
        assert found


def test_short_lived_commands_read_a_held_slot_instead_of_building_one(settings, database, corpus) -> None:  # noqa: ANN001
    server = SearchIndexes(settings)
    with database.session() as session:
        server.catch_up(session)
        reader = SearchIndexes.for_queries(settings, session)
        assert reader.root == server.root and not reader.claimed
        assert reader.keyword.chunk_ids() == server.keyword.chunk_ids()
        assert [p.name for p in slot_dirs(settings.index_root)] == ["slot-0"]
        server.close()
        claimed = SearchIndexes.for_queries(settings, session)  # free now: claimed and caught up
        assert claimed.root.name == "slot-0" and claimed.claimed
        claimed.close()


def test_a_new_keyword_layout_rebuilds_the_keyword_index_and_encodes_nothing_again(settings, database, corpus) -> None:  # noqa: ANN001
    """An index slot of an earlier keyword layout (issue 18) or sentence split: only what changed is redone."""
    from kb.search import indexer, sentences

    counting = CountingEmbedder(shared_embedder(None))
    indexes = SearchIndexes(settings, embedder=counting)
    with database.session() as session:
        indexes.catch_up(session)
    slot, head = indexes.root, indexes.last_seq
    encoded, held_sentences = counting.encoded, indexes.multilingual_sentences.chunk_ids()
    indexes.close()
    manifest = json.loads((slot / "manifest.json").read_text())
    assert manifest["keyword_format"] == indexer.KEYWORD_FORMAT and manifest["sentence_split"] == sentences.SPLIT_VERSION
    # as an earlier kb left it: no keyword format (1) and another sentence split
    manifest.pop("keyword_format")
    manifest["sentence_split"] = sentences.SPLIT_VERSION - 1
    (slot / "manifest.json").write_text(json.dumps(manifest))
    again = SearchIndexes(settings, embedder=counting, slot=slot)
    assert again.last_seq == 0 and not again.keyword.chunk_ids()  # the keyword index starts empty, replayed from 0
    assert not (slot / indexer.SENTENCES_DIR).exists()
    with database.session() as session:
        again.catch_up(session)
        assert again.check(session).clean and again.last_seq == head
    assert counting.encoded == encoded  # the MiniLM vectors were kept: nothing encoded again
    assert again.multilingual_sentences.chunk_ids() == held_sentences  # the sentences were split and encoded again
    again.close()


def test_the_sentence_index_switched_off_is_removed_and_switched_on_again_is_refilled(settings, database, corpus) -> None:  # noqa: ANN001
    from kb.search import indexer

    counting = CountingEmbedder(shared_embedder(None))
    off = SearchIndexes(settings.model_copy(update={"public_sentences": False}), embedder=counting)
    with database.session() as session:
        off.catch_up(session)
        assert off.multilingual_sentences is None and off.multilingual.chunk_ids() and off.check(session).clean
    slot = off.root
    assert not (slot / indexer.SENTENCES_DIR).exists()
    off.close()
    on = SearchIndexes(settings, embedder=counting, slot=slot)
    assert on.last_seq == 0  # nothing saved there yet: the catch-up starts from the beginning
    with database.session() as session:
        on.catch_up(session)
        assert {c // 64 for c in on.multilingual_sentences.chunk_ids()} == on.multilingual.chunk_ids()
        assert on.check(session).clean
    on.close()
    again_off = SearchIndexes(settings.model_copy(update={"public_sentences": False}), embedder=counting, slot=slot)
    assert not (slot / indexer.SENTENCES_DIR).exists() and again_off.last_seq > 0  # the rest is kept
    again_off.close()
