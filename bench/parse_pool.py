"""CPU of a bulk import's parsing pool: spawned processes against processes forked from a fork server.

    .venv/bin/python bench/parse_pool.py ../shared/data/scifact --pdfs 1000 100 --runs 3

Writes the first N SciFact abstracts as generated PDFs (``bench/ingest_pipeline.write_pdfs``), then parses
them with ``kb.documents.bulk.parse_in_order`` and two workers, each run in a fresh process: with the
pool's context as kb sets it (``kb.forkserver.context``: a fork server that imports the parsers once), with
*spawn* (each worker imports them again: kb before), and in the one process (``workers=1``) for
reference. The figure is the whole machine's busy CPU-seconds during the run (``/proc/stat``): the fork
server's workers are not children the parent waits for, so its own rusage would miss them. Run it on a
quiet machine; the modes are interleaved and the medians reported.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODES = ("fork server", "spawn", "one process")


def busy_cpu_seconds() -> float:
    fields = [int(n) for n in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def child(mode: str, folder: Path) -> None:
    """Parse every PDF in ``folder`` as ``mode`` says; print the machine's busy CPU-seconds meanwhile."""
    from kb import forkserver
    from kb.documents import bulk
    from kb.documents.ingest_docx import parse_upload

    if mode == "spawn":
        forkserver.context = lambda: multiprocessing.get_context("spawn")  # kb before the fork server
    files = sorted(folder.glob("*.pdf"))
    jobs = ((f.name, f.name, f.read_bytes()) for f in files)
    before = busy_cpu_seconds()
    done = sum(1 for *_rest, result in bulk.parse_in_order(jobs, parse=parse_upload, workers=1 if mode == "one process" else 2,
                                                           expected=len(files)) if not isinstance(result, bulk.Refused))
    print(f"{busy_cpu_seconds() - before:.3f} {done}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, nargs="?")
    parser.add_argument("--pdfs", type=int, nargs="+", default=[1000, 100])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    from bench.ingest_pipeline import load_corpus, write_pdfs

    corpus = load_corpus(args.directory)
    work = Path(tempfile.mkdtemp(prefix="kb-parse-pool-"))
    for count in args.pdfs:
        folder = work / f"pdf{count}"
        write_pdfs(corpus[:count], folder)
        figures: dict[str, list[float]] = {mode: [] for mode in MODES}
        for _ in range(args.runs):
            for mode in MODES:
                out = subprocess.run([sys.executable, __file__, "--child", mode, str(folder)], cwd=ROOT, check=True,
                                     capture_output=True, text=True).stdout.split()
                if int(out[1]) != count:
                    raise SystemExit(f"{mode}: parsed {out[1]} of {count} PDFs")
                figures[mode].append(float(out[0]))
        print(f"{count} PDFs, machine CPU-s (median of {args.runs}): "
              + ", ".join(f"{mode} {statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"
                          for mode, values in figures.items()))


if __name__ == "__main__":
    main()
