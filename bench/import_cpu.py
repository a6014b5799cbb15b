"""CPU-seconds of ``kb import DIR --submit`` of SciFact files, this tree against another (an A/B).

    .venv/bin/python bench/import_cpu.py --other /tmp/kb-before --files 1000 --runs 3 [--pdf]
    .venv/bin/python bench/import_cpu.py --other /tmp/kb-before --instructions 10,110
    (make the other tree with: git worktree add /tmp/kb-before HEAD~1)

Each run builds a fresh SQLite database with the test cast (``tests.factories.make_cast``), writes the
first ``--files`` abstracts of ``../shared/data/scifact/corpus.jsonl`` as Markdown files (with ``--pdf``:
as the PDFs ``bench/ingest_pipeline.py`` generates, written once by this tree) and imports them as the
contributor, submitted, parsed in the importing process (``--workers 1``). The figure is the
child process's user + system CPU (its start included), which the machine's other load changes far
less than the wall time; the two trees' runs are interleaved and the medians reported.

``--instructions FEW,MANY`` counts instead the instructions of each tree's import of the first FEW and of the
first MANY files under valgrind's callgrind (``PYTHONHASHSEED=0``; the same count again and again, whatever
else the machine does), and prints what one more file costs: the difference divided by MANY - FEW. It takes
a few minutes (callgrind runs Python about 50 times slower).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETUP = """
import sys
from kb.config import Environment, Settings
from kb.db import Database
from kb.migrations import upgrade
from tests.factories import make_cast
database = Database(Settings(data_dir=sys.argv[1], env=Environment.test))
upgrade(database)
print(make_cast(database)["contributor"].token)
"""


def import_cpu(tree: Path, corpus: list[dict], pdfs: Path | None = None, callgrind: bool = False) -> float:
    """The import's CPU-seconds, or with ``callgrind`` its instructions."""
    work = Path(tempfile.mkdtemp(prefix="kb-import-cpu-"))
    folder = work / "files"
    if pdfs is not None:
        shutil.copytree(pdfs, folder)
    else:
        folder.mkdir()
        for doc in corpus:
            (folder / f"d{doc['_id']}.md").write_text(f"# {doc.get('title') or doc['_id']}\n\n{doc['text']}\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tree), "KB_DATA_DIR": str(work / "data"), "KB_ENV": "test", "HF_HUB_OFFLINE": "1"}
    token = subprocess.run([sys.executable, "-c", SETUP, str(work / "data")], env=env, cwd=tree, capture_output=True,
                           text=True, check=True).stdout.strip().splitlines()[-1]
    counted = work / "callgrind.out"
    wrap = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={counted}"] if callgrind else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([*wrap, sys.executable, "-m", "kb", "import", str(folder), "--space", "benefits", "--submit",
                           "--intended-use", "Benchmark", "--workers", "1"],
                          env={**env, "KB_TOKEN": token, **({"PYTHONHASHSEED": "0"} if callgrind else {})}, cwd=tree,
                          capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if f"{len(corpus)} created" not in done.stdout + done.stderr:
        raise SystemExit(f"the import failed in {tree}:\n{done.stdout[-1000:]}\n{done.stderr[-2000:]}")
    if callgrind:
        return float(next(line.split()[1] for line in counted.read_text().splitlines() if line.startswith("summary:")))
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--other", type=Path, required=True, help="the other tree (a git worktree of another commit)")
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "data" / "scifact" / "corpus.jsonl")
    parser.add_argument("--pdf", action="store_true", help="import the abstracts as generated PDFs, not Markdown")
    parser.add_argument("--instructions", metavar="FEW,MANY", help="count one more file's instructions (callgrind)")
    args = parser.parse_args()
    if args.instructions:
        if args.pdf:
            parser.error("--instructions counts Markdown files only")
        few, many = (int(n) for n in args.instructions.split(","))
        args.files = max(args.files, many)
    with args.corpus.open(encoding="utf-8") as lines:
        corpus = [json.loads(line) for _, line in zip(range(args.files), lines)]
    pdfs = None
    if args.pdf:
        sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
        from ingest_pipeline import write_pdfs

        pdfs = Path(tempfile.mkdtemp(prefix="kb-import-cpu-pdfs-")) / "pdf"
        write_pdfs(corpus, pdfs)
    if args.instructions:
        for name, tree in (("other", args.other), ("this", ROOT)):
            counts = [import_cpu(tree, corpus[:n], pdfs, callgrind=True) for n in (few, many)]
            print(f"{name}: {counts[0]:.0f} and {counts[1]:.0f} instructions for {few} and {many} files: "
                  f"{(counts[1] - counts[0]) / (many - few) / 1e6:.2f} M a file", flush=True)
        return
    results: dict[str, list[float]] = {"other": [], "this": []}
    for _ in range(args.runs):
        for name, tree in (("other", args.other), ("this", ROOT)):
            results[name].append(import_cpu(tree, corpus, pdfs))
            print(f"{name}: {results[name][-1]:.2f} CPU-s", flush=True)
    medians = {name: statistics.median(values) for name, values in results.items()}
    print(f"median CPU-s for {args.files} {'PDF' if args.pdf else 'Markdown'} files: other {medians['other']:.2f}, this {medians['this']:.2f} "
          f"({medians['this'] / medians['other'] - 1:+.1%})")


if __name__ == "__main__":
    main()
