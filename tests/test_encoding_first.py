"""The gate by which a bulk import waits for an approval's own encoding (``kb.encoding_first``, issue 19)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from kb.encoding_first import GATE_FILE, EncodingFirst


def test_an_importer_waits_while_a_catch_up_encodes_and_goes_on_when_it_ends(tmp_path: Path) -> None:
    """One thread, no timing: the importer's injected ``sleep`` is where it would wait for its next look, and
    there the two catch-ups (two processes of one machine may hold the gate at once) end, one a look."""
    holds = [ExitStack(), ExitStack()]
    looks = []

    def look_again(_seconds: float) -> None:  # the importer found the gate held
        looks.append(importer.waits)
        holds[len(looks) - 1].close()  # first one catch-up ends, then, a whole look later, the other

    catch_up = EncodingFirst(tmp_path / GATE_FILE)
    # its clock stands still: a wait never runs out of patience, it lasts exactly until the gate is free
    importer = EncodingFirst(tmp_path / GATE_FILE, clock=lambda: 0.0, sleep=look_again)
    for hold in holds:
        hold.enter_context(catch_up.encoding())
    importer.before_next_file()
    assert looks == [1, 1]  # it looked again while one catch-up still held the gate: one wait, two looks
    importer.before_next_file()
    assert importer.waits == 1 and len(looks) == 2  # the gate is free: the next file does not wait


def test_an_importer_waits_at_most_its_patience_more_than_it_has_run(tmp_path: Path) -> None:
    """No wall clock: the importer's clock is ``now``, which only its looks (one second each) and the test move.
    What is asserted is behaviour the test counts itself: how many looks the importer took before giving up."""
    now, looks = [0.0], []

    def sleep(seconds: float) -> None:  # a second a look: the waits' lengths are counted, not timed
        now[0] += 1
        looks.append(now[0])

    catch_up = EncodingFirst(tmp_path / GATE_FILE)
    importer = EncodingFirst(tmp_path / GATE_FILE, patience=5, clock=lambda: now[0], sleep=sleep)
    with catch_up.encoding():  # catch-ups encoding for minutes, or one after another
        importer.before_next_file()  # gives up once its patience has run out
        assert importer.waits == 1 and len(looks) == 5
        importer.before_next_file()  # the next file, at once: no credit left, it does not wait
        assert importer.waits == 1 and len(looks) == 5
        now[0] += 3  # the import ran 3 s
        importer.before_next_file()  # it may wait as long again, no longer
        assert importer.waits == 2 and len(looks) == 8  # three more looks: the 3 s it ran
        now[0] += 60  # a long run earns no more than the patience
        importer.before_next_file()
        assert importer.waits == 3 and len(looks) == 13  # five more looks: its patience, no more


def test_short_holds_one_after_another_are_charged_and_cannot_stop_an_import(tmp_path: Path) -> None:
    """Catch-ups that free the gate after a look or two, file after file, use up the credit as long ones do."""
    now, looks, every_look, hold = [0.0], [], [], ExitStack()

    def sleep(seconds: float) -> None:  # each look a second; the catch-up frees the gate after two
        now[0] += 1
        looks.append(now[0])
        every_look.append(now[0])
        if len(looks) == 2:
            hold.close()

    catch_up = EncodingFirst(tmp_path / GATE_FILE)
    importer = EncodingFirst(tmp_path / GATE_FILE, patience=15, clock=lambda: now[0], sleep=sleep)
    for _ in range(20):  # files that each find the gate newly held, with no time running in between
        looks.clear()
        hold.enter_context(catch_up.encoding())
        importer.before_next_file()
        hold.close()  # a file the importer no longer waited for: its catch-up ends after it
    assert len(every_look) == 15  # two looks a file, charged, until the credit of fifteen looks ran out
    assert importer.waits == 8  # seven full waits, the eighth cut at the credit; the last twelve files did not wait


def test_without_a_writable_data_directory_nothing_waits(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    gate = EncodingFirst(blocker / GATE_FILE)  # its folder cannot be made
    with gate.encoding():
        gate.before_next_file()
    assert gate.waits == 0


def fork_and_hold(started, release) -> None:  # noqa: ANN001 - a forked child that keeps the parent's descriptors
    started.send("holding copies")
    release.recv()


def test_a_forked_child_does_not_keep_the_gate_after_the_catch_up_released_it(tmp_path: Path) -> None:
    """A server forks (the audit log's parallel verification): a child holding a copy of the catch-up's descriptor
    must not hold the gate once the catch-up has released it."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    catch_up, importer = EncodingFirst(tmp_path / GATE_FILE), EncodingFirst(tmp_path / GATE_FILE, patience=2)
    started, child_started = context.Pipe(duplex=False)
    child_release, release = context.Pipe(duplex=False)
    with catch_up.encoding():
        child = context.Process(target=fork_and_hold, args=(child_started, child_release))
        child.start()
        child_started.close()  # so that the child's death, had it died, would end the read below
        assert started.recv() == "holding copies"
    try:
        importer.before_next_file()  # the child still runs, with the descriptor: the gate is free all the same
        assert importer.waits == 0
    finally:
        release.send("done")
        child.join()
