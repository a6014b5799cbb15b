"""Delta saves of the vector index and their background merge (issue 19).

A save after a change writes the vectors added (with their chunk records) and the ids removed as a
delta beside the base generation; loading applies the deltas in order; a lost or torn delta ends
the saved state at the sequence before it; a merge in a background thread writes a new base with
the same answers and removes the deltas, without losing one saved meanwhile.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from kb.search import vector
from kb.search.interfaces import IndexedChunk, SearchFilters
from kb.search.vector import FaissVectorIndex, saved_state

DIMENSION = 16
EVERYTHING = SearchFilters(include_internal=True)


def chunk(i: int, audience: str | None = None, tags: tuple[str, ...] = ()) -> IndexedChunk:
    return IndexedChunk(chunk_id=i, document_id=i // 10, version_id=i // 10, space_id=1 + i % 3, title="", heading_path=(),
                        text="", tags=tags, language="en" if i % 4 else "nl",
                        audience=audience or ("public" if i % 2 else "internal"))


def unit_vectors(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.normal(size=(count, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def files(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def pointer(path: Path) -> dict:
    return json.loads((path / vector.POINTER).read_text())


def same_index(a: FaissVectorIndex, b: FaissVectorIndex, rng: np.random.Generator) -> None:
    """Same chunks, filter fields, vectors and answers (with and without filters)."""
    assert a.chunk_ids() == b.chunk_ids() and a.ntotal == b.ntotal == len(a.chunk_ids())
    assert a.chunk_facts() == b.chunk_facts()
    ids = sorted(a.chunk_ids())
    held_a, held_b = a.vectors(ids), b.vectors(ids)
    for cid in ids:
        np.testing.assert_array_equal(held_a[cid], held_b[cid])
    for query in unit_vectors(rng, 5):
        for filters in (EVERYTHING, SearchFilters(), SearchFilters(include_internal=True, spaces=frozenset({2}))):
            assert [cid for cid, _ in a.search(query, filters, 10)] == [cid for cid, _ in b.search(query, filters, 10)]


@pytest.fixture
def no_merge(monkeypatch):  # noqa: ANN001, ANN201
    """Deltas pile up (the merge policy is tested on its own)."""
    monkeypatch.setattr(vector, "DELTA_MERGE_FRACTION", 1e9)
    monkeypatch.setattr(vector, "DELTA_MERGE_COUNT", 10**9)


def changes(index: FaissVectorIndex, rng: np.random.Generator, step: int) -> None:
    """One document replaced (its chunks dropped, others added), one chunk's audience changed."""
    held = sorted(index.chunk_ids())
    gone = {cid for cid in held if cid // 10 == held[step] // 10}
    index.retain([chunk(cid) for cid in held if cid not in gone])
    added = [chunk(1000 * step + k) for k in range(1, 8)]
    index.upsert(added, unit_vectors(rng, len(added)))
    flipped = next(cid for cid in sorted(index.chunk_ids()) if cid % 2)
    index.retain([chunk(cid, audience="internal" if cid == flipped else None) for cid in sorted(index.chunk_ids())])


def test_changes_are_saved_as_deltas_that_load_like_a_whole_save(tmp_path, no_merge) -> None:  # noqa: ANN001
    rng = np.random.default_rng(19)
    index = FaissVectorIndex(tmp_path / "deltas", DIMENSION)
    index.upsert([chunk(i) for i in range(1, 301)], unit_vectors(rng, 300))
    index.save(1)
    base = pointer(tmp_path / "deltas")
    assert base["format"] == vector.POINTER_FORMAT and base["deltas"] == [] and base["generation"] == 1
    for step in range(1, 5):
        changes(index, rng, step)
        index.save(1 + step)
    saved = pointer(tmp_path / "deltas")
    assert [seq for _number, seq, _size in saved["deltas"]] == [2, 3, 4, 5] and saved["generation"] == 1
    assert saved["last_seq"] == 5 and saved["ntotal"] == index.ntotal
    assert files(tmp_path / "deltas") == ["chunks.1.json", "delta.1.npz", "delta.2.npz", "delta.3.npz", "delta.4.npz",
                                          "vectors.1.faiss", "vectors.json"]
    # each delta holds one change's vectors and records, not the index: a small part of the base
    assert all(size < saved["base_bytes"] / 5 for _number, _seq, size in saved["deltas"])
    index.save(6)  # nothing changed: only the pointer's sequence moves on
    assert len(pointer(tmp_path / "deltas")["deltas"]) == 4 and saved_state(tmp_path / "deltas")["last_seq"] == 6

    reopened = FaissVectorIndex(tmp_path / "deltas", DIMENSION)
    assert reopened.last_seq == 6
    same_index(reopened, index, rng)
    whole = FaissVectorIndex(tmp_path / "whole", DIMENSION)  # the same content saved in one generation
    ids = sorted(index.chunk_ids())
    held = index.vectors(ids)
    whole.upsert([reopened._meta[cid] for cid in ids], np.stack([held[cid] for cid in ids]))
    whole.save(6)
    same_index(reopened, FaissVectorIndex(tmp_path / "whole", DIMENSION), rng)
    # a reopened index goes on saving deltas after the ones it read
    changes(reopened, rng, 7)
    reopened.save(7)
    assert [seq for _n, seq, _s in pointer(tmp_path / "deltas")["deltas"]] == [2, 3, 4, 5, 7]
    same_index(FaissVectorIndex(tmp_path / "deltas", DIMENSION), reopened, rng)


@pytest.mark.parametrize("damage", ["truncated", "bytes flipped", "missing"])
def test_a_torn_or_lost_delta_ends_the_saved_state_at_the_sequence_before_it(tmp_path, no_merge, damage: str) -> None:  # noqa: ANN001
    rng = np.random.default_rng(4)
    path = tmp_path / "index"
    index = FaissVectorIndex(path, DIMENSION)
    index.upsert([chunk(i) for i in range(1, 201)], unit_vectors(rng, 200))
    index.save(10)
    states = {}
    for seq in (11, 12, 13):
        changes(index, rng, seq)
        index.save(seq)
        states[seq] = (index.chunk_facts(), index.vectors(sorted(index.chunk_ids())))
    second = path / "delta.2.npz"  # the delta that brought the index to seq 12
    data = second.read_bytes()
    if damage == "truncated":
        second.write_bytes(data[: len(data) // 2])
    elif damage == "bytes flipped":  # same size: only the zip CRC-32 finds it
        middle = len(data) // 2
        second.write_bytes(data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 64]) + data[middle + 64:])
    else:
        second.unlink()
    reopened = FaissVectorIndex(path, DIMENSION)
    assert reopened.last_seq == 11  # the catch-up redoes 12 and 13 from there
    facts, vectors = states[11]
    assert reopened.chunk_facts() == facts
    for cid, held in reopened.vectors(sorted(reopened.chunk_ids())).items():
        np.testing.assert_array_equal(held, vectors[cid])
    if damage != "bytes flipped":  # read without faiss, by size: the same sequence
        assert saved_state(path)["last_seq"] == 11
    # the holder saves again: the pointer drops the bad delta and the one after it, the files go
    changes(reopened, rng, 12)
    reopened.save(14)
    assert [seq for _n, seq, _s in pointer(path)["deltas"]] == [11, 14]
    assert files(path) == ["chunks.1.json", "delta.1.npz", "delta.4.npz", "vectors.1.faiss", "vectors.json"]
    same_index(FaissVectorIndex(path, DIMENSION), reopened, rng)


def test_a_crash_while_writing_a_delta_leaves_the_previous_state(tmp_path, no_merge, monkeypatch) -> None:  # noqa: ANN001
    rng = np.random.default_rng(5)
    path = tmp_path / "index"
    index = FaissVectorIndex(path, DIMENSION)
    index.upsert([chunk(i) for i in range(1, 101)], unit_vectors(rng, 100))
    index.save(1)
    changes(index, rng, 1)
    index.save(2)
    before = index.chunk_facts()

    def killed(target, write):  # noqa: ANN001, ANN202
        """The process dies halfway through the temporary file: nothing is renamed."""
        tmp = target.parent / f".{target.name}.crashed"
        write(str(tmp))
        tmp.write_bytes(tmp.read_bytes()[:100])
        raise KeyboardInterrupt

    changes(index, rng, 2)
    with monkeypatch.context() as crash, pytest.raises(KeyboardInterrupt):
        crash.setattr(vector, "atomic_write", killed)
        index.save(3)
    reopened = FaissVectorIndex(path, DIMENSION)
    assert reopened.last_seq == 2 and reopened.chunk_facts() == before and saved_state(path)["last_seq"] == 2
    # the process that failed to save keeps its changes pending: its next save writes them
    index.save(3)
    assert ".delta.2.npz.crashed" not in files(path)  # a temporary file left behind is removed
    same_index(FaissVectorIndex(path, DIMENSION), index, rng)


def test_a_merge_writes_a_new_base_with_the_same_answers_and_removes_the_deltas(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(vector, "DELTA_MERGE_FRACTION", 1e9)
    monkeypatch.setattr(vector, "DELTA_MERGE_COUNT", 3)
    rng = np.random.default_rng(6)
    path = tmp_path / "index"
    index = FaissVectorIndex(path, DIMENSION)
    index.upsert([chunk(i) for i in range(1, 201)], unit_vectors(rng, 200))
    index.save(1)
    for seq in (2, 3):
        changes(index, rng, seq)
        index.save(seq)
    index.wait_for_merge()
    assert len(pointer(path)["deltas"]) == 2 and pointer(path)["generation"] == 1  # below the count: no merge
    queries = unit_vectors(rng, 5)
    changes(index, rng, 4)
    index.save(4)  # the third delta: a merge starts
    index.wait_for_merge()
    merged = pointer(path)
    assert merged["generation"] == 2 and merged["deltas"] == [] and merged["base_seq"] == merged["last_seq"] == 4
    assert files(path) == ["chunks.2.json", "vectors.2.faiss", "vectors.json"]
    reopened = FaissVectorIndex(path, DIMENSION)
    assert reopened.last_seq == 4
    same_index(reopened, index, rng)
    for query in queries:
        assert reopened.search(query, SearchFilters(), 10) == index.search(query, SearchFilters(), 10)


def test_the_merge_policy_counts_the_deltas_bytes_against_the_base(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(vector, "DELTA_MERGE_FRACTION", 0.05)
    monkeypatch.setattr(vector, "DELTA_MERGE_COUNT", 10**9)
    rng = np.random.default_rng(8)
    path = tmp_path / "index"
    index = FaissVectorIndex(path, DIMENSION)
    index.upsert([chunk(i) for i in range(1, 2001)], unit_vectors(rng, 2000))
    index.save(1)
    base_bytes = pointer(path)["base_bytes"]
    seq = 1
    while pointer(path)["generation"] == 1:
        held = sum(size for _n, _s, size in pointer(path)["deltas"])
        assert held < 0.05 * base_bytes  # not merged before the deltas reach 5% of the base
        seq += 1
        index.upsert([chunk(5000 + seq)], unit_vectors(rng, 1))
        index.save(seq)
        index.wait_for_merge()
        assert seq < 500, "Bug: no merge"
    assert sum(size for _n, _s, size in json.loads((path / "vectors.json").read_text())["deltas"]) == 0
    same_index(FaissVectorIndex(path, DIMENSION), index, rng)


def test_saves_during_a_merge_lose_no_delta(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """The merge writes its base while saves go on; the pointer it writes keeps the deltas saved meanwhile."""
    monkeypatch.setattr(vector, "DELTA_MERGE_FRACTION", 1e9)
    monkeypatch.setattr(vector, "DELTA_MERGE_COUNT", 2)
    rng = np.random.default_rng(9)
    path = tmp_path / "index"
    index = FaissVectorIndex(path, DIMENSION)
    index.upsert([chunk(i) for i in range(1, 201)], unit_vectors(rng, 200))
    index.save(1)
    started, release = threading.Event(), threading.Event()
    write_base = FaissVectorIndex._write_base

    def held_back(self, snapshot, last_seq=None):  # noqa: ANN001, ANN202
        if threading.current_thread().name.startswith("kb-vector-merge"):
            started.set()
            assert release.wait(60)
        return write_base(self, snapshot, last_seq)

    monkeypatch.setattr(FaissVectorIndex, "_write_base", held_back)
    for seq in (2, 3):  # the second delta starts the merge, which waits
        changes(index, rng, seq)
        index.save(seq)
    assert started.wait(60)
    for seq in (4, 5, 6):  # saved while the merge runs (a merge already running: no second one)
        changes(index, rng, seq)
        index.save(seq)
    assert [s for _n, s, _size in pointer(path)["deltas"]] == [2, 3, 4, 5, 6]
    release.set()
    index.wait_for_merge()
    merged = pointer(path)
    assert merged["generation"] == 2 and merged["base_seq"] == 3 and merged["last_seq"] == 6
    assert [s for _n, s, _size in merged["deltas"]] == [4, 5, 6]
    assert files(path) == ["chunks.2.json", "delta.3.npz", "delta.4.npz", "delta.5.npz", "vectors.2.faiss", "vectors.json"]
    reopened = FaissVectorIndex(path, DIMENSION)
    assert reopened.last_seq == 6
    same_index(reopened, index, rng)


def test_an_ivf_index_saves_deltas_and_is_merged_in_its_layout(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(vector, "IVF_MIN_VECTORS", 400)
    monkeypatch.setattr(vector, "IVF_NPROBE", 4)
    monkeypatch.setattr(vector, "DELTA_MERGE_FRACTION", 1e9)
    monkeypatch.setattr(vector, "DELTA_MERGE_COUNT", 10**9)
    rng = np.random.default_rng(10)
    path = tmp_path / "index"
    index = FaissVectorIndex(path, DIMENSION)
    index.upsert([chunk(i) for i in range(1, 301)], unit_vectors(rng, 300))
    index.save(1)
    assert index.layout == "flat"
    # past the threshold: the save re-organises into IVF, writes the change as a delta, and merges so
    # that the base is read back as IVF (the deltas alone would load into the flat base)
    index.upsert([chunk(i) for i in range(301, 601)], unit_vectors(rng, 300))
    index.save(2)
    index.wait_for_merge()
    assert index.layout.startswith("ivf-") and pointer(path)["generation"] == 2 and pointer(path)["deltas"] == []
    for seq in (3, 4, 5):
        changes(index, rng, seq)
        index.save(seq)
    assert [s for _n, s, _size in pointer(path)["deltas"]] == [3, 4, 5]
    reopened = FaissVectorIndex(path, DIMENSION)
    assert reopened.layout == index.layout and reopened.last_seq == 5
    same_index(reopened, index, rng)
    for cid in sorted(index.chunk_ids())[::97]:  # each vector finds itself
        assert reopened.search(index.vectors([cid])[cid], EVERYTHING, 1)[0][0] == cid
    monkeypatch.setattr(vector, "DELTA_MERGE_COUNT", 1)
    changes(reopened, rng, 6)
    reopened.save(6)
    reopened.wait_for_merge()
    assert pointer(path)["deltas"] == [] and FaissVectorIndex(path, DIMENSION).layout == index.layout
    same_index(FaissVectorIndex(path, DIMENSION), reopened, rng)


def test_a_slot_saved_before_deltas_loads_as_it_is(tmp_path) -> None:  # noqa: ANN001
    """A format-1 pointer (one generation and its sequence) is read as a base without deltas."""
    rng = np.random.default_rng(11)
    path = tmp_path / "index"
    index = FaissVectorIndex(path, DIMENSION)
    index.upsert([chunk(i) for i in range(1, 51)], unit_vectors(rng, 50))
    index.save(7)
    (path / vector.POINTER).write_text(json.dumps({"generation": 1, "last_seq": 9, "ntotal": 50, "dimension": DIMENSION}))
    assert saved_state(path)["last_seq"] == 9
    reopened = FaissVectorIndex(path, DIMENSION)
    assert reopened.last_seq == 9
    same_index(reopened, index, rng)
    changes(reopened, rng, 1)
    reopened.save(10)
    assert pointer(path)["format"] == vector.POINTER_FORMAT and len(pointer(path)["deltas"]) == 1
