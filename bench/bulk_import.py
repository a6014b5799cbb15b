"""Bulk import of the SciFact corpus as 5,183 Markdown files (issue 19): files/s, and every refused file.

Writes each document of a BEIR corpus (``corpus.jsonl``: ``_id``, ``title``, ``text``) as a ``.md``
file into a temporary folder (``# title`` then the text; 100 sub-folders by id, as an organisation's
share would be), makes a fresh kb data directory (SQLite there, or ``--database-url``) with a space and a
contributor, and imports the folder through the use case every surface uses
(``kb.documents.actions.bulk_import``: listing, resume by hash, parsing in a process per core, one write
transaction per file), with a progress bar. Reports the files, the outcomes, the wall-clock time and
files/s, the parse pool size, and every refused file with its reason. With ``--again`` it runs the same
import a second time (everything ``unchanged``: the resume path) and reports that rate too.

Encoding is not measured here: ``bench/ingest_pipeline.py throughput`` measures the whole way, from the
import to every passage encoded by a running server's worker, against the raw encoder's speed.

Usage: .venv/bin/python bench/bulk_import.py [--corpus ../shared/data/scifact] [--workers N] [--again]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "scifact"


def write_corpus(corpus: Path, folder: Path, limit: int | None) -> int:
    """Each document of ``corpus/corpus.jsonl`` as ``folder/NN/ID.md``; returns how many were written."""
    count = 0
    with (corpus / "corpus.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            if limit is not None and count >= limit:
                break
            doc = json.loads(line)
            target = folder / f"{int(doc['_id']) % 100:02d}" / f"{doc['_id']}.md"
            target.parent.mkdir(parents=True, exist_ok=True)
            title = " ".join(doc.get("title", "").split()) or doc["_id"]
            target.write_text(f"# {title}\n\n{doc.get('text', '').strip()}\n", encoding="utf-8")
            count += 1
    return count


def setup(data_dir: Path, database_url: str | None):  # noqa: ANN201 - (database, settings, actor)
    from kb.accounts import service as accounts
    from kb.accounts.schemas import SpaceCreate, UserCreate
    from kb.actors import SYSTEM, Channel, SpaceRole
    from kb.config import Environment, Settings
    from kb.db import Database, transaction
    from kb.migrations import upgrade

    settings = Settings(data_dir=data_dir, env=Environment.test, **({"database_url": database_url} if database_url else {}))
    database = Database(settings)
    upgrade(database)
    with database.session() as session:
        with transaction(session):
            accounts.create_space(session, actor=SYSTEM, data=SpaceCreate(slug="scifact", name="SciFact"),
                                  four_eyes_default=True)
            user = accounts.create_user(session, actor=SYSTEM, data=UserCreate(
                username="importer", display_name="Importer", email="importer@example.test"))
            accounts.create_user(session, actor=SYSTEM, data=UserCreate(
                username="owner", display_name="Owner", email="owner@example.test"))
            accounts.set_membership(session, actor=SYSTEM, slug="scifact", username="owner", role=SpaceRole.owner)
            accounts.set_membership(session, actor=SYSTEM, slug="scifact", username="importer", role=SpaceRole.contributor)
        actor = accounts.actor_for(session, user, Channel.cli)
    return database, settings, actor


def run_import(database, settings, actor, folder: Path, workers: int | None):  # noqa: ANN001, ANN201
    from functools import partial

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from kb.documents import actions, bulk
    from kb.documents.schemas import DraftSave

    fields = DraftSave(intended_use="Benchmark of bulk import (SciFact abstracts)", language="en")
    with Progress(TextColumn("Importing"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]} files/s"), TextColumn("ETA"), TimeRemainingColumn()) as bar:
        task = bar.add_task("import", total=None, rate="-")

        def progress(done: int, total: int) -> None:
            speed = bar.tasks[task].speed
            bar.update(task, completed=done, total=total, rate=f"{speed:.0f}" if speed else "-")

        with database.session() as session:
            return actions.bulk_import(session, actor, space="scifact", open_batch=partial(bulk.open_paths, [folder]),
                                       files_dir=settings.files_dir, fields=fields, workers=workers, progress=progress)


def report(name: str, result, workers: int) -> float:  # noqa: ANN001
    rate = result.files / result.seconds if result.seconds else float("nan")
    print(f"\n{name}: {result.files} files in {result.seconds:.1f} s = {rate:.1f} files/s "
          f"({workers} parsing processes); outcomes: {dict(Counter(result.counts))}")
    print(f"refused: {len(result.refused)}")
    for refused in result.refused:
        print(f"  {refused.path}: [{refused.code}] {refused.reason}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="A BEIR folder with corpus.jsonl")
    parser.add_argument("--limit", type=int, default=None, help="Import only the first N documents")
    parser.add_argument("--workers", type=int, default=None, help="Parsing processes (default: one per core)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL instead of SQLite in the temporary folder")
    parser.add_argument("--again", action="store_true", help="Import the same folder a second time (resume: all unchanged)")
    args = parser.parse_args()
    if not (args.corpus / "corpus.jsonl").is_file():
        sys.exit(f"{args.corpus}/corpus.jsonl not found (the BEIR layout)")

    from kb.documents.bulk import default_workers

    workers = args.workers or default_workers()
    with tempfile.TemporaryDirectory(prefix="kb-bulk-bench-") as tmp:
        folder = Path(tmp) / "corpus"
        began = time.perf_counter()
        written = write_corpus(args.corpus, folder, args.limit)
        print(f"wrote {written} .md files in {time.perf_counter() - began:.1f} s to {folder}")
        database, settings, actor = setup(Path(tmp) / "kb-data", args.database_url)
        try:
            report("first import", run_import(database, settings, actor, folder, workers), workers)
            if args.again:
                report("again (resume: skipped by hash)", run_import(database, settings, actor, folder, workers), workers)
        finally:
            database.dispose()


if __name__ == "__main__":  # the parsing pool starts its processes with spawn, which re-imports this module
    main()
