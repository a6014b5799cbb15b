"""The gate by which a bulk import waits for an approval's own encoding (``kb.encoding_first``, issue 19)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from kb.encoding_first import GATE_FILE, EncodingFirst


def test_an_importer_waits_while_a_catch_up_encodes_and_goes_on_when_it_ends(tmp_path: Path) -> None:
    catch_up, importer = EncodingFirst(tmp_path / GATE_FILE), EncodingFirst(tmp_path / GATE_FILE, patience=600)
    released, returned = threading.Event(), threading.Event()

    def next_file() -> None:
        importer.before_next_file()
        returned.set()

    waiting = threading.Thread(target=next_file)
    with catch_up.encoding(), catch_up.encoding():  # two catch-ups (two processes of one machine) may hold it at once
        waiting.start()
        for _ in range(20_000):  # until the importer finds the gate held (no wall-clock assertion)
            if importer.waits:
                break
            time.sleep(0.001)
        assert importer.waits == 1 and not returned.is_set()
        released.set()
    waiting.join(60)
    assert returned.is_set() and released.is_set()
    importer.before_next_file()
    assert importer.waits == 1  # the gate is free: the next file does not wait


def test_an_importer_waits_at_most_its_patience_then_goes_on_beside_a_long_encoding(tmp_path: Path) -> None:
    catch_up, importer = EncodingFirst(tmp_path / GATE_FILE), EncodingFirst(tmp_path / GATE_FILE, patience=0.05)
    with catch_up.encoding():  # a rebuild re-encoding a corpus: held for minutes
        importer.before_next_file()  # returns once its patience has run out
        assert importer.waits == 1
        assert importer._not_before > 0  # and does not wait again for as long
        importer._not_before = time.monotonic() + 600  # as if the next file came at once
        importer.before_next_file()
        assert importer.waits == 1  # it did not wait
        importer._not_before = 0.0  # that time has passed
        importer.before_next_file()
        assert importer.waits == 2  # it waits again


def test_without_a_writable_data_directory_nothing_waits(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    gate = EncodingFirst(blocker / GATE_FILE)  # its folder cannot be made
    with gate.encoding():
        gate.before_next_file()
    assert gate.waits == 0
