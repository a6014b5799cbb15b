"""Vectors stored with their passages, encoded once per model (issue 19), and indexing off the request path."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from kb.cli import app as cli
from kb.search import stored_vectors
from kb.search.indexer import SearchIndexes
from kb.search.models import ChunkVector
from tests.factories import make_cast, make_document, publish_version
from tests.fakes import CountingEmbedder as Counting
from tests.fakes import HashingEmbedder


def bodies(slug: str) -> str:
    return f"# {slug}\n\nFirst passage about {slug}. It has two sentences.\n\n## More\n\nSecond passage about {slug}."


@pytest.fixture
def corpus(database):  # noqa: ANN001, ANN201
    cast = make_cast(database)
    for slug, audience in (("child-benefit", "public"), ("housing", "public"), ("failover", "internal")):
        make_document(database, cast, slug=slug, state="approved", audience=audience, body=bodies(slug))
    return cast


def indexes_for(settings, tmp_path, name: str, embedder, multilingual):  # noqa: ANN001, ANN201
    """Indexes in a slot of their own: a new process's first start."""
    return SearchIndexes(settings, embedder=embedder, multilingual_embedder=multilingual, slot=tmp_path / name)


def stored(session, model: str) -> int:  # noqa: ANN001
    return session.execute(select(func.count()).select_from(ChunkVector).where(ChunkVector.model == model)).scalar_one()


def test_a_new_slot_reads_the_stored_vectors_and_encodes_nothing(settings, database, corpus, tmp_path) -> None:  # noqa: ANN001
    first, first_multi = Counting(HashingEmbedder()), Counting(HashingEmbedder(96), "multi-fake")
    one = indexes_for(settings, tmp_path, "one", first, first_multi)
    with database.session() as session:
        one.catch_up(session)
        assert first.encoded == 6 and first_multi.encoded > 4  # 6 passages; 4 public passages and their sentences
        assert stored(session, stored_vectors.model_key(first)) == 6
        assert stored(session, "multi-fake") == 4
        assert stored(session, stored_vectors.sentence_key(first_multi)) == first_multi.encoded - 4

        second, second_multi = Counting(HashingEmbedder()), Counting(HashingEmbedder(96), "multi-fake")
        two = indexes_for(settings, tmp_path, "two", second, second_multi)
        two.catch_up(session)
        assert second.encoded == 0 and second_multi.encoded == 0
        assert two.check(session).clean
        for chunk_id, vector in one.vector.vectors(one.vector.chunk_ids()).items():
            assert np.array_equal(two.vector.vectors([chunk_id])[chunk_id], vector)
        assert two.multilingual_sentences.chunk_ids() == one.multilingual_sentences.chunk_ids()
        query = HashingEmbedder().encode(["second passage about housing"])[0]
        from kb.search.interfaces import SearchFilters

        filters = SearchFilters(include_internal=True)
        assert two.vector.search(query, filters, 5) == one.vector.search(query, filters, 5)
    one.close()
    two.close()


def test_another_model_finds_no_stored_vectors_and_encodes_again(settings, database, corpus, tmp_path) -> None:  # noqa: ANN001
    old = Counting(HashingEmbedder())
    with database.session() as session:
        indexes_for(settings, tmp_path, "old", old, Counting(HashingEmbedder(96), "multi-fake")).catch_up(session)
        new = Counting(HashingEmbedder(), "hashing-fake-retrained")
        indexes_for(settings, tmp_path, "new", new, Counting(HashingEmbedder(96), "multi-fake")).catch_up(session)
        assert new.encoded == 6  # another key: nothing of the old model's is used
        assert stored(session, "hashing-fake") == 6 and stored(session, "hashing-fake-retrained") == 6


def test_submitted_passages_are_encoded_ahead_and_approval_only_indexes(settings, database, tmp_path) -> None:  # noqa: ANN001
    from kb.db import transaction
    from kb.documents import service as documents

    cast = make_cast(database)
    make_document(database, cast, slug="in-review", state="in_review", body=bodies("in-review"))
    make_document(database, cast, slug="a-draft", state="draft", body=bodies("a-draft"))
    embedder, multilingual = Counting(HashingEmbedder()), Counting(HashingEmbedder(96), "multi-fake")
    indexes = indexes_for(settings, tmp_path, "slot", embedder, multilingual)
    with database.session() as session:
        assert indexes.encode_ahead(session, limit=1) == 3  # one passage per model key: MiniLM, multilingual, sentences
        assert indexes.encode_ahead(session, limit=10) == 3  # the second passage of each, from where it stopped
        assert indexes.encode_ahead(session) == 0  # drafts have no passages yet; nothing left
        assert stored(session, "hashing-fake") == 2
        encoded = embedder.encoded, multilingual.encoded
        with transaction(session):
            documents.approve(session, actor=cast["owner"].actor, slug="in-review", number=1)
        indexes.catch_up(session)
        assert (embedder.encoded, multilingual.encoded) == encoded  # approval read the stored vectors
        assert indexes.check(session).clean and len(indexes.vector.chunk_ids()) == 2
    indexes.close()


def test_stored_vectors_are_the_encoders_own(settings, database, corpus, tmp_path) -> None:  # noqa: ANN001
    """What is read back is bit for bit what the encoder returned, in float32."""
    embedder = HashingEmbedder()
    indexes = indexes_for(settings, tmp_path, "slot", embedder, Counting(HashingEmbedder(96), "multi-fake"))
    with database.session() as session:
        indexes.catch_up(session)
        published = indexes.vector.chunk_ids()
        held = stored_vectors.load(session, stored_vectors.model_key(embedder), published)
        assert set(held) == published
        for chunk_id, vector in held.items():
            assert vector.dtype == np.float32 and np.array_equal(vector, indexes.vector.vectors([chunk_id])[chunk_id])
        assert stored_vectors.save(session, stored_vectors.model_key(embedder), [(min(published), -1, np.ones(64, np.float32))])
        again = stored_vectors.load(session, stored_vectors.model_key(embedder), [min(published)])
        assert np.array_equal(again[min(published)], held[min(published)])  # a second writer never replaces the first
    indexes.close()


def test_cli_reports_and_encodes_what_the_configured_model_lacks(settings, database, corpus, cli_env, monkeypatch) -> None:  # noqa: ANN001
    """``kb index vectors`` counts, ``kb index encode`` fills in resumable batches (here with the real models)."""
    from kb.search.factory import shared_embedder

    monkeypatch.setenv("KB_PUBLIC_SENTENCES", "false")
    runner = CliRunner()
    before = runner.invoke(cli, ["index", "vectors"])
    assert before.exit_code == 0, before.output
    assert "passages: 0 of 6 stored" in before.output and "public passages, multilingual: 0 of 4 stored" in before.output
    encoded = runner.invoke(cli, ["index", "encode", "--batch", "4"])
    assert encoded.exit_code == 0, encoded.output
    assert "passages: encoded and stored 6" in encoded.output
    after = runner.invoke(cli, ["index", "vectors"])
    assert "passages: 6 of 6 stored" in after.output and "public passages, multilingual: 4 of 4 stored" in after.output
    assert "encoded and stored 0" in runner.invoke(cli, ["index", "encode"]).output  # done: a second run has nothing to do
    counting = Counting(shared_embedder(None))
    with database.session() as session:
        SearchIndexes(settings, embedder=counting, slot=settings.index_root / "fresh").catch_up(session)
    assert counting.encoded == 0


class Gate:
    """An embedder that waits at a gate before encoding passages (a query of a few words passes)."""

    def __init__(self) -> None:
        self.inner = HashingEmbedder()
        self.name, self.dimension = "gated-fake", self.inner.dimension
        self.open = threading.Event()
        self.waiting = threading.Event()

    def encode(self, texts):  # noqa: ANN001, ANN201
        if len(texts) > 1:  # passages come in batches; a query alone
            self.waiting.set()
            assert self.open.wait(60), "the test never opened the gate"
        return self.inner.encode(texts)


def test_approval_returns_before_indexing_and_the_document_says_being_indexed(settings, database) -> None:  # noqa: ANN001
    """With KB_INDEX_IN_BACKGROUND the approving request returns while the worker encodes; API and web say so."""
    from fastapi.testclient import TestClient

    from kb.app import create_app
    from tests.factories import sign_in

    cast = make_cast(database)
    make_document(database, cast, slug="leave", state="in_review", audience="internal", body=bodies("leave"))
    gate = Gate()
    background = settings.model_copy(update={"index_in_background": True, "index_catch_up_seconds": 0.05,
                                             "public_multilingual": False})
    indexes = SearchIndexes(background, embedder=gate, slot=background.index_root / "slot-0")
    with TestClient(create_app(background, database=database, search=indexes)) as client:
        assert gate.waiting.wait(30)  # the worker is encoding the submitted passages ahead, and waits at the gate
        approved = client.post("/api/v1/documents/leave/versions/1/approve", json={}, headers=cast["owner"].headers)
        assert approved.status_code == 200, approved.text  # returned with the worker still held at the gate
        document = client.get("/api/v1/documents/leave", headers=cast["reader"].headers).json()
        assert document["current"]["number"] == 1 and document["search"] == "being indexed"
        sign_in(client, database, "rita")
        assert "Being indexed" in client.get("/d/leave").text
        hits = client.get("/api/v1/search", params={"q": "second passage about leave"}, headers=cast["reader"].headers)
        assert all(hit["document"] != "leave" for hit in hits.json()["data"])
        gate.open.set()
        for _ in range(600):  # up to 30 s: the worker indexes once the gate opens (no assertion on the time)
            if client.get("/api/v1/documents/leave", headers=cast["reader"].headers).json()["search"] == "searchable":
                break
            time.sleep(0.05)
        assert client.get("/api/v1/documents/leave", headers=cast["reader"].headers).json()["search"] == "searchable"
        assert "Being indexed" not in client.get("/d/leave").text
        hits = client.get("/api/v1/search", params={"q": "second passage about leave"}, headers=cast["reader"].headers)
        assert any(hit["document"] == "leave" for hit in hits.json()["data"])
    indexes.close()


def test_documents_without_an_approved_version_have_no_search_status(client, database) -> None:  # noqa: ANN001
    cast = make_cast(database)
    make_document(database, cast, slug="draft-only", state="in_review")
    make_document(database, cast, slug="live", state="approved")
    assert client.get("/api/v1/documents/draft-only", headers=cast["owner"].headers).json()["search"] is None
    assert client.get("/api/v1/documents/live", headers=cast["owner"].headers).json()["search"] == "searchable"


def test_a_slot_indexed_before_vectors_were_stored_stores_what_it_holds(settings, database, corpus, tmp_path) -> None:  # noqa: ANN001
    """Upgrading: a slot whose manifest has no model key keeps its vectors, and stores them once, encoding nothing."""
    import json

    from sqlalchemy import delete

    embedder, multilingual = Counting(HashingEmbedder()), Counting(HashingEmbedder(96), "multi-fake")
    old = indexes_for(settings, tmp_path, "old", embedder, multilingual)
    with database.session() as session:
        old.catch_up(session)
        old.close()
        session.execute(delete(ChunkVector))  # as before issue 19: nothing stored
        session.commit()
        manifest = json.loads((tmp_path / "old" / "manifest.json").read_text())
        del manifest["model_key"], manifest["multilingual_model_key"]
        (tmp_path / "old" / "manifest.json").write_text(json.dumps(manifest))
        encoded = embedder.encoded, multilingual.encoded
        upgraded = indexes_for(settings, tmp_path, "old", embedder, multilingual)
        assert upgraded.keyword.chunk_ids()  # compatible: kept, not emptied
        upgraded.catch_up(session)
        assert (embedder.encoded, multilingual.encoded) == encoded
        assert stored(session, "hashing-fake") == 6 and stored(session, "multi-fake") == 4
        assert stored(session, stored_vectors.sentence_key(multilingual)) == len(upgraded.multilingual_sentences.chunk_ids())
        assert "model_key" in json.loads((tmp_path / "old" / "manifest.json").read_text())
        fresh, fresh_multi = Counting(HashingEmbedder()), Counting(HashingEmbedder(96), "multi-fake")
        indexes_for(settings, tmp_path, "fresh", fresh, fresh_multi).catch_up(session)
        assert fresh.encoded == 0 and fresh_multi.encoded == 0  # what the old slot held now serves new ones
    upgraded.close()


def test_a_new_release_of_the_model_empties_the_slot_and_forget_makes_it_encode_again(settings, database, corpus, tmp_path) -> None:  # noqa: ANN001
    first = Counting(HashingEmbedder())
    multilingual = Counting(HashingEmbedder(96), "multi-fake")
    with database.session() as session:
        before = indexes_for(settings, tmp_path, "slot", first, multilingual)
        before.catch_up(session)
        before.close()
        upgraded = Counting(HashingEmbedder())
        upgraded.version = "2"  # same name, another release of its weights
        again = indexes_for(settings, tmp_path, "slot", upgraded, multilingual)
        assert not again.keyword.chunk_ids()  # another model key: the slot was emptied
        again.catch_up(session)
        assert upgraded.encoded == 6 and stored(session, "hashing-fake 2") == 6
        again.close()
        assert stored_vectors.forget(session, "hashing-fake 2") == 6 and stored(session, "hashing-fake 2") == 0
        assert stored(session, "hashing-fake") == 6  # another key's rows stay


def test_the_encode_ahead_cursor_comes_back_for_what_it_passed(settings, database, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """A batch whose save failed (or a passage given a lower id than one already passed) is encoded on the next pass."""
    cast = make_cast(database)
    make_document(database, cast, slug="in-review", state="in_review", body=bodies("in-review"))
    indexes = indexes_for(settings, tmp_path, "slot", HashingEmbedder(), Counting(HashingEmbedder(96), "multi-fake"))
    real_save = stored_vectors.save
    monkeypatch.setattr(stored_vectors, "save", lambda session, model, rows: False)  # the database refuses
    with database.session() as session:
        assert indexes.encode_ahead(session) == 0 and stored(session, "hashing-fake") == 0
        monkeypatch.setattr(stored_vectors, "save", real_save)
        assert indexes.encode_ahead(session) == 0  # past the end: back to the start
        assert indexes.encode_ahead(session) > 0 and stored(session, "hashing-fake") == 2
    indexes.close()


def test_encoding_ahead_never_holds_up_the_periodic_catch_up(settings, database) -> None:  # noqa: ANN001
    """With a backlog that never ends, the worker still catches up every interval (changes made elsewhere)."""
    from kb.search.indexer import CatchUpLoop

    class Endless:
        def __init__(self) -> None:
            self.catch_ups, self.batches = 0, 0
            self.enough = threading.Event()

        def serve_rebuild_request(self, session) -> None:  # noqa: ANN001
            return None

        def catch_up(self, session) -> int:  # noqa: ANN001
            self.catch_ups += 1
            if self.catch_ups >= 3:
                self.enough.set()
            return 0

        def encode_ahead(self, session) -> int:  # noqa: ANN001
            self.batches += 1
            time.sleep(0.01)
            return 1  # always more to encode

    endless = Endless()
    loop = CatchUpLoop(database, endless, 0.05, encode_ahead=True)
    loop.start()
    try:
        assert endless.enough.wait(60), f"{endless.catch_ups} catch-ups during {endless.batches} batches"
        assert endless.batches > 0
    finally:
        loop.stop()


def test_a_catch_up_never_waits_for_the_batch_being_encoded_ahead(settings, database) -> None:  # noqa: ANN001
    """An approval's wake is served while a batch is still being encoded ahead (issue 19: the lag must
    not include the encoder's batch): the encoding runs in a thread of its own."""
    from kb.search.indexer import CatchUpLoop

    class Blocked:
        def __init__(self) -> None:
            self.catch_ups = 0
            self.caught_up = threading.Condition()
            self.encoding, self.release = threading.Event(), threading.Event()

        def serve_rebuild_request(self, session) -> None:  # noqa: ANN001
            return None

        def catch_up(self, session) -> int:  # noqa: ANN001
            with self.caught_up:
                self.catch_ups += 1
                self.caught_up.notify_all()
            return 0

        def encode_ahead(self, session) -> int:  # noqa: ANN001
            self.encoding.set()
            self.release.wait(60)  # a batch that takes as long as the test needs
            return 0

    blocked = Blocked()
    loop = CatchUpLoop(database, blocked, 0, encode_ahead=True)  # no interval: only wakes catch up
    loop.start()
    try:
        loop.wake()
        assert blocked.encoding.wait(60), "the first catch-up did not start the encoder"
        with blocked.caught_up:
            before = blocked.catch_ups
            loop.wake()  # an approval committed while the batch is being encoded
            assert blocked.caught_up.wait_for(lambda: blocked.catch_ups > before, timeout=60), \
                "the catch-up waited for the batch being encoded ahead"
        assert not blocked.release.is_set()  # the batch was still being encoded when it caught up
    finally:
        blocked.release.set()
        loop.stop()


def test_catch_up_re_syncs_only_for_events_that_can_change_what_is_served(settings, database, corpus, tmp_path) -> None:  # noqa: ANN001
    """A draft's events (create, import, edit, submit, reject), a reader's report and its dismissal
    (``documents.UNPUBLISHED_ACTIONS``) are read and
    passed, not re-synced (issue 19: a bulk import's thousands); an approval, a supersession or a retirement
    in the same page is applied, and the indexes match the database after each step."""
    from kb import provenance
    from kb.db import transaction
    from kb.documents import UNPUBLISHED_ACTIONS, importing
    from kb.documents import service as documents
    from kb.documents.models import ReviewRequest
    from kb.documents.schemas import DocumentCreate, DraftSave
    from kb.search.interfaces import SearchFilters
    from kb.social import moderation
    from kb.social.schemas import FlagCreate
    from kb.social.service import Limits

    author, owner = corpus["contributor"].actor, corpus["owner"].actor
    indexes = indexes_for(settings, tmp_path, "slot", HashingEmbedder(), Counting(HashingEmbedder(96), "multi-fake"))

    with database.session() as session:
        indexes.catch_up(session)
        served = indexes.keyword.chunk_facts()
        before = indexes.last_seq
        with transaction(session):  # every action of UNPUBLISHED_ACTIONS, on a document that has an approved version
            documents.save_draft(session, actor=author, slug="housing", data=DraftSave(body_md="# Housing\n\nA draft."))
        with transaction(session):
            documents.submit(session, actor=author, slug="housing", number=2)
        with transaction(session):
            documents.reject(session, actor=owner, slug="housing", number=2, reason="not yet")
        with transaction(session):  # a reader's report and its dismissal
            made = moderation.flag(session, actor=corpus["reader"].actor, limits=Limits(),
                                   data=FlagCreate(target="document", target_id="housing", reason="outdated"))
        with transaction(session):
            (report,) = session.execute(select(ReviewRequest.id)).scalars()
            documents.dismiss_report(session, actor=owner, report_id=report, reason="Still right")
        assert made.status == "review_requested"
        with transaction(session):
            documents.create_document(session, actor=author, space_slug="benefits", data=DocumentCreate(
                slug="new-draft", title="New draft", body_md="# New\n\nDraft text.", intended_use="Tests", licence="CC0"))
        with transaction(session):
            importing.import_file(session, actor=author, space_slug="benefits", filename="failover.md",
                                  data=b"# Failover\n\nImported over the approved one.\n",
                                  parsed=importing.parse_file("failover.md", b"# Failover\n\nImported over the approved one.\n"),
                                  files_dir=settings.files_dir, fields=DraftSave(intended_use="Tests"), slug="failover")
        actions = [e.action for e in provenance.events_since(session, before)]
        assert set(actions) == set(UNPUBLISHED_ACTIONS), actions
        assert indexes.catch_up(session) == 0  # read, not re-synced
        assert indexes.last_seq > before and indexes.keyword.chunk_facts() == served
        assert indexes.check(session).clean

        # in one page with draft events: a supersession (housing v3), a retirement and a first approval
        publish_version(session, author=author, owner=owner, slug="housing", number=3,
                        data=DraftSave(body_md="# Housing\n\nRents rise in May."))
        with transaction(session):
            documents.retire(session, actor=owner, slug="child-benefit", reason="ended")
        with transaction(session):
            documents.submit(session, actor=author, slug="new-draft", number=1)
        with transaction(session):
            documents.approve(session, actor=owner, slug="new-draft", number=1)
        assert indexes.catch_up(session) == 3  # housing, child-benefit, new-draft: their approvals and retirement
        assert indexes.check(session).clean
        assert indexes.keyword.chunk_facts() != served
        hits = indexes.keyword.search("rents rise", SearchFilters(include_internal=True), 10)
        assert len(hits) == 1 and set(indexes.vector.chunk_ids()) == set(indexes.keyword.chunk_facts())
    indexes.close()


def test_a_catch_up_holds_the_encoding_gate_only_while_it_encodes(settings, database, corpus, tmp_path) -> None:  # noqa: ANN001
    """A catch-up that must encode approved passages itself holds the data directory's gate (``kb.encoding_first``),
    so a bulk import of this machine starts no file meanwhile (issue 19); one that reads stored vectors does not,
    nor does a rebuild, which no approval waits for."""
    from kb.encoding_first import GATE_FILE, EncodingFirst

    class GateWatching(Counting):
        def __init__(self, inner, name: str | None = None) -> None:  # noqa: ANN001
            super().__init__(inner, name)
            self.held: list[bool] = []

        def encode(self, texts):  # noqa: ANN001, ANN201
            importer = EncodingFirst(settings.data_dir / GATE_FILE, patience=1e-6)
            importer.before_next_file()  # an importer looking now: it finds the gate held and waits (a moment)
            self.held.append(importer.waits == 1)
            return super().encode(texts)

    first, first_multi = GateWatching(HashingEmbedder()), GateWatching(HashingEmbedder(96), "multi-fake")
    one = indexes_for(settings, tmp_path, "one", first, first_multi)
    with database.session() as session:
        one.catch_up(session)  # a new slot is built whole (a rebuild): no approval waits for it
        assert first.encoded == 6 and first.held and not any(first.held)
    make_document(database, corpus, slug="new-policy", state="approved", audience="public", body=bodies("new-policy"))
    first.held.clear(), first_multi.held.clear()
    with database.session() as session:
        one.catch_up(session)  # the approval's change: its passages encoded with the gate held
        assert first.encoded == 8 and first.held and all(first.held)
        assert first_multi.held and all(first_multi.held)  # and its multilingual passages and sentences
        importer = EncodingFirst(settings.data_dir / GATE_FILE, patience=1e-6)
        importer.before_next_file()
        assert importer.waits == 0  # released once the catch-up encoded

        second = GateWatching(HashingEmbedder())
        indexes_for(settings, tmp_path, "two", second, GateWatching(HashingEmbedder(96), "multi-fake")).catch_up(session)
        assert second.encoded == 0 and second.held == []  # stored vectors read: nothing encoded, the gate never held

        rebuilt = GateWatching(HashingEmbedder(), "hashing-fake-retrained")  # a new model: a rebuild encodes it all
        indexes_for(settings, tmp_path, "three", rebuilt, GateWatching(HashingEmbedder(96), "multi-fake")).rebuild(session)
        assert rebuilt.encoded == 8 and rebuilt.held and not any(rebuilt.held)  # no approval waits: the gate is not held
    one.close()
