"""How soon a bulk import writes its first passage, and how long it takes, with nothing else running.

    .venv/bin/python bench/import_start.py ../shared/data/scifact --pdfs 1000 --runs 5

Writes the first N SciFact abstracts as generated PDFs (``bench/ingest_pipeline.write_pdfs``), then, each
run on a new SQLite database with its people (``tests.factories.make_cast``), spawns ``kb import DIR
--submit`` and polls the database every 20 ms: the seconds from the spawn until the first passage is
committed (until then a server's encoder has nothing to do), and until the command ends. No ``kb serve``
runs: this is the importer's own latency, which bench/ingest_pipeline.py measures inside the end-to-end
figure. Medians of the runs.

    .venv/bin/python bench/import_start.py ../shared/data/scifact --pdfs 20 --statements

``--statements``: the SQL statements of the import instead, run in this process on one new database
(a listener on every statement the engine sends): how many a file costs, and those of one file
(the 11th), in order, from its BEGIN.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


IMPORT = ["import", "--space", "benefits", "--submit", "--intended-use", "Evaluation of bulk import"]
"""``kb import``'s arguments, the folder after them, as bench/ingest_pipeline.py gives them."""


def new_database(work: Path):  # noqa: ANN201 - (Database, environment of a kb process importing as the contributor)
    """A new SQLite database in ``work``, migrated, with its people; and the environment a ``kb`` process
    needs to import into it as its contributor."""
    from kb.config import Environment, Settings
    from kb.db import Database
    from kb.migrations import upgrade
    from tests.factories import make_cast
    from tests.processes import kb_env

    settings = Settings(data_dir=work, env=Environment.test)
    database = Database(settings)
    upgrade(database)
    return database, {**kb_env(settings), "KB_TOKEN": make_cast(database)["contributor"].token}


def one_run(pdfs: Path, work: Path) -> tuple[float, float]:
    from sqlalchemy import func, select

    from kb.documents.models import Chunk

    database, env = new_database(work)
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "kb", *IMPORT, str(pdfs)], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = None
    with database.session() as session:
        while process.poll() is None:
            if first is None and session.execute(select(func.count()).select_from(Chunk)).scalar_one():
                first = time.perf_counter() - start
            session.rollback()  # a new snapshot at the next read
            time.sleep(0.02)
    ended = time.perf_counter() - start
    database.dispose()
    if process.returncode != 0 or first is None:
        raise RuntimeError(f"kb import failed (exit {process.returncode})")
    return first, ended


def statements(pdfs: Path, work: Path) -> None:
    import os

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from kb.cli import app

    database, env = new_database(work)
    database.dispose()
    os.environ.update(env)
    sent: list[str] = []

    @event.listens_for(Engine, "before_cursor_execute")
    def _sent(_connection, _cursor, statement, *_rest) -> None:  # noqa: ANN001
        sent.append(" ".join(statement.split())[:120])

    try:
        app([*IMPORT, str(pdfs), "--workers", "1"], standalone_mode=False)
    except SystemExit:
        pass
    begins = [i for i, statement in enumerate(sent) if statement.startswith("BEGIN")]  # each file's write transaction
    if len(begins) < 12:
        raise SystemExit("give --pdfs 12 or more")
    one = sent[begins[10]:begins[11]]
    print(f"write transactions={len(begins)} statements={len(sent)} the 11th file's (BEGIN included, COMMIT is no "
          f"statement)={len(one)}")
    for statement in one:
        print(f"  {statement}")


def main() -> None:
    from ingest_pipeline import load_corpus, write_pdfs

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--pdfs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--statements", action="store_true", help="count the import's SQL statements instead")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="kb-import-start-"))
    try:
        write_pdfs(load_corpus(args.directory)[:args.pdfs], scratch / "pdf")
        if args.statements:
            statements(scratch / "pdf", scratch / "statements")
            return
        firsts, ends = [], []
        for run in range(args.runs):
            first, ended = one_run(scratch / "pdf", scratch / f"run-{run}")
            firsts.append(first)
            ends.append(ended)
            print(f"run {run + 1}: first passage committed {first:.2f} s after the spawn, kb import ended at {ended:.2f} s")
        print(f"pdfs={args.pdfs} runs={args.runs} first_passage_s_median={statistics.median(firsts):.2f} "
              f"import_s_median={statistics.median(ends):.2f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
