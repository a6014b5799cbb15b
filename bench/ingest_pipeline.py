"""Getting knowledge in, end to end (issue 19): bulk import throughput against the raw encoder, and
approvals while a bulk import runs.

    .venv/bin/python bench/ingest_pipeline.py throughput ../shared/data/scifact [--pdfs 1000 [--pdfs-only]] [--import-nice 10]
    .venv/bin/python bench/ingest_pipeline.py approvals ../shared/data/scifact [--approvals 20]
    (either with --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test)

``throughput``: writes the collection as one .md file per document (SciFact: 5,183) and, with
``--pdfs N``, the first N documents again as generated PDFs. A ``kb serve`` runs as in production
(``KB_INDEX_IN_BACKGROUND``: its worker encodes submitted passages ahead and stores their vectors).
``kb import DIR --submit`` (parsing on every core, progress bar) imports each set; the clock runs
from the start of the import until every submitted passage has its stored vector. That rate is
compared with the raw encoder's, measured in the same run on the same passages (a sample of the
set's own, in batches of 256, in this process, with the server idle), and the import's refused files are listed.
It also reports how busy the machine's cores were meanwhile (``/proc/stat``, every process): where they
were not, the end-to-end rate lost to waiting, not to the importer's CPU.

``approvals``: documents of 1 to ~1,300 passages (the largest body kb accepts) are submitted and
encoded while in review; then a bulk import of the collection starts (submitted, so the worker has
thousands of passages to encode ahead) and, while it runs, each document is approved through the
API: the request's latency, and the lag until ``GET /documents/{slug}`` says ``searchable`` and a
search finds it. Then the same for documents approved the moment they are submitted (their
passages are encoded in the catch-up, not ahead).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import drop_schema, schema_name  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def load_corpus(directory: Path) -> list[dict]:
    return [json.loads(line) for line in (directory / "corpus.jsonl").open(encoding="utf-8")]


def write_markdown(corpus: list[dict], folder: Path) -> None:
    folder.mkdir(parents=True)
    for doc in corpus:
        title = (doc.get("title") or "").strip() or f"Document {doc['_id']}"
        (folder / f"d{doc['_id']}.md").write_text(f"# {title}\n\n{(doc.get('text') or title).strip()}\n", encoding="utf-8")


def write_pdfs(corpus: list[dict], folder: Path) -> None:
    """Each document as a PDF written by hand (tests.hostile_files.pdf_file): its title at 18 pt, its text at 11 pt."""
    from tests.hostile_files import pdf_file

    folder.mkdir(parents=True)

    def safe(line: str) -> str:
        return line.encode("cp1252", "replace").decode("cp1252")

    for doc in corpus:
        title = safe((doc.get("title") or "").strip() or f"Document {doc['_id']}")
        lines = [(18.0, title[:90])] + [(11.0, safe(line)) for line in textwrap.wrap((doc.get("text") or title).strip(), 95)]
        pages = [lines[start:start + 40] for start in range(0, len(lines), 40)]
        (folder / f"p{doc['_id']}.pdf").write_bytes(pdf_file(pages, info={"Title": title[:200], "Author": "SciFact"}))


class Run:
    """A scratch database, its people, and one ``kb serve`` with the production indexing settings."""

    def __init__(self, database_url: str | None, work: Path) -> None:
        from kb.config import Environment, Settings
        from kb.db import Database
        from kb.migrations import upgrade
        from tests.factories import make_cast
        from tests.processes import ServeProcess, kb_env

        self.work = work
        self.schema = schema_name("kbingest") if database_url else None
        self.database_url = database_url
        self.settings = Settings(data_dir=work, database_url=database_url, database_schema=self.schema, env=Environment.test)
        self.database = Database(self.settings)
        upgrade(self.database)
        self.cast = make_cast(self.database)
        # as `kb serve` runs in production: its worker indexes and encodes ahead, on every core
        self.env = {k: v for k, v in kb_env(self.settings, KB_INDEX_IN_BACKGROUND="true").items() if k != "OMP_NUM_THREADS"}
        self.server = ServeProcess(self.env, work / "serve.log")
        self.server.ready(300)
        self._wait_search_ready()

    def _wait_search_ready(self) -> None:
        import httpx

        for _ in range(3000):
            if httpx.get(f"{self.server.url}/api/v1/health", timeout=10).json().get("search") == "ready":
                return
            time.sleep(0.1)
        raise TimeoutError("search models never loaded")

    def kb_import(self, folder: Path, report: Path, *, background: bool = False, nice: int = 0) -> subprocess.Popen | subprocess.CompletedProcess:
        env = {**self.env, "KB_TOKEN": self.cast["contributor"].token}
        command = [*(["nice", "-n", str(nice)] if nice else []), sys.executable, "-m", "kb", "import", str(folder),
                   "--space", "benefits", "--submit", "--intended-use", "Evaluation of bulk import", "--report", str(report)]
        if background:
            return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)

    def unencoded(self) -> int:
        from kb.search import stored_vectors
        from kb.search.factory import shared_embedder

        key = stored_vectors.model_key(shared_embedder(None))
        with self.database.session() as session:
            return stored_vectors.unencoded_count(session, key)

    def passages(self) -> int:
        from sqlalchemy import func, select

        from kb.documents.models import Chunk

        with self.database.session() as session:
            return session.execute(select(func.count()).select_from(Chunk)).scalar_one()

    def last_chunk_id(self) -> int:
        from sqlalchemy import func, select

        from kb.documents.models import Chunk

        with self.database.session() as session:
            return session.execute(select(func.coalesce(func.max(Chunk.id), 0))).scalar_one()

    def close(self) -> None:
        self.server.stop()
        self.database.dispose()
        drop_schema(self.database_url, self.schema)


def refused_summary(report: Path) -> str:
    data = json.loads(report.read_text(encoding="utf-8"))
    refused = data.get("refused", [])
    reasons: dict[str, int] = {}
    for item in refused:
        reasons[item["reason"][:80]] = reasons.get(item["reason"][:80], 0) + 1
    return f"refused={len(refused)}" + "".join(f"\n  {n} × {reason}" for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]))


def throughput(args: argparse.Namespace) -> None:
    corpus = load_corpus(args.directory)
    work = Path(tempfile.mkdtemp(prefix="kb-ingest-"))
    sets = []
    if not args.pdfs_only:
        write_markdown(corpus, work / "md")
        sets.append(("md", work / "md", len(corpus)))
    if args.pdfs:
        write_pdfs(corpus[:args.pdfs], work / "pdf")
        sets.append(("pdf", work / "pdf", args.pdfs))
    run = Run(args.database_url, work)
    try:
        for label, folder, files in sets:
            before, first_id = run.passages(), run.last_chunk_id() + 1
            server_cpu, import_cpu = cpu_seconds(run.server.pid), children_cpu_seconds()
            machine = MachineCpu(work / f"{label}-cpu.tsv")
            start = time.perf_counter()
            done = run.kb_import(folder, work / f"{label}.json", nice=args.import_nice)
            imported_s = time.perf_counter() - start
            import_cpu = children_cpu_seconds() - import_cpu  # kb import and its parsing processes
            server_during, left = cpu_seconds(run.server.pid) - server_cpu, run.unencoded()
            print(f"[{label}] kb import: exit={done.returncode} {done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ''}")
            while run.unencoded():
                time.sleep(0.5)
            total_s = time.perf_counter() - start
            busy, machine_cpu = machine.stop()
            server_cpu = cpu_seconds(run.server.pid) - server_cpu
            passages = run.passages() - before
            print(f"[{label}] files={files} passages={passages} import_s={imported_s:.1f} "
                  f"import_to_encoded_s={total_s:.1f} end_to_end_passages_per_s={passages / total_s:.2f} "
                  f"{refused_summary(work / f'{label}.json')}")
            print(f"[{label}] cpu_s: kb serve (worker encoding ahead, catch-up, requests)={server_cpu:.0f}; kb import "
                  f"(and the parsing processes it waited for: not those its fork server forked)={import_cpu:.0f}")
            if passages > left > 0:
                print(f"[{label}] kb serve's cpu_s per passage encoded while kb import ran="
                      f"{server_during / (passages - left):.4f} ({passages - left} passages), after it="
                      f"{(server_cpu - server_during) / left:.4f} ({left} passages)")
            print(f"[{label}] the machine's cores were busy {busy:.1%} of the time: {machine_cpu:.0f} CPU-s, every process "
                  f"(besides kb serve: kb import with every parsing process, and anything else running; on "
                  f"{os.cpu_count()} cores kb serve's share, {server_cpu / machine_cpu:.2f}, bounds end_to_end/raw; "
                  f"timeline every 0.5 s in {machine.path})")
            raw, raw_cpu = raw_encoder_rate(run, sample=args.sample, first_id=first_id)
            print(f"[{label}] raw_encoder_passages_per_s={raw:.2f} end_to_end/raw={passages / total_s / raw:.3f}")
            print(f"[{label}] cpu_s per passage: raw encoder={raw_cpu:.4f} the whole machine={machine_cpu / passages:.4f}; "
                  f"raw/machine={raw_cpu * passages / machine_cpu:.3f} (what end_to_end/raw would be on these cores with "
                  f"nothing else running; any other load lowers it)")
    finally:
        run.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class MachineCpu:
    """The whole machine's busy and idle time (``/proc/stat``) from now on: how much of the cores the run
    left unused, with a timeline of busy cores every half second (a thread samples) written to ``path``."""

    def __init__(self, path: Path) -> None:
        import threading

        self.path = path
        self.first = self.last = self._read()
        self.started = time.perf_counter()
        path.write_text("seconds\tbusy_cores\n", encoding="utf-8")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True)
        self._thread.start()

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(0.5):
            self.sample()

    @staticmethod
    def _read() -> tuple[int, int]:
        fields = [int(n) for n in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
        idle = fields[3] + fields[4]  # idle and iowait
        return sum(fields) - idle, sum(fields)

    def sample(self) -> None:
        now = self._read()
        busy, total = now[0] - self.last[0], now[1] - self.last[1]
        if total:
            with self.path.open("a", encoding="utf-8") as out:
                out.write(f"{time.perf_counter() - self.started:.1f}\t{busy / total * (os.cpu_count() or 1):.2f}\n")
        self.last = now

    def stop(self) -> tuple[float, float]:
        """Stops the timeline: the share of the cores' time busy since the start, and those busy CPU-seconds."""
        self._stop.set()
        self._thread.join()
        now = self._read()
        busy = now[0] - self.first[0]
        return busy / max(1, now[1] - self.first[1]), busy / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU time of this process's ended children (and theirs): the ``kb import`` runs."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def raw_encoder_rate(run: Run, sample: int, first_id: int) -> tuple[float, float]:
    """MiniLM alone over a random sample of this set's passages (chunk ids from ``first_id``: the Markdown
    set's for the Markdown import, the PDFs' for the PDF one), batches of 256, as the indexer encodes: passages
    per second, and CPU-seconds per passage (every thread of this process)."""
    from sqlalchemy import select

    from kb.documents.models import Chunk
    from kb.search.factory import shared_embedder
    from kb.search.interfaces import embedding_text

    with run.database.session() as session:
        rows = session.execute(select(Chunk.heading_path, Chunk.text).where(Chunk.id >= first_id)).all()
    texts = [embedding_text(tuple(json.loads(path)), text) for path, text in random.Random(7).sample(rows, min(sample, len(rows)))]
    embedder = shared_embedder(None)
    embedder.encode(texts[:32])
    start, cpu = time.perf_counter(), time.process_time()
    for at in range(0, len(texts), 256):
        embedder.encode(texts[at:at + 256])
    return len(texts) / (time.perf_counter() - start), (time.process_time() - cpu) / len(texts)


def body_of(passages: int, marker: str) -> str:
    """About ``passages`` passages of ~200 words (the chunker's target), capped at the largest body kb accepts."""
    from kb.documents.schemas import MAX_BODY_CHARS

    words = ("policy leave benefit claim employee review approval record evidence period payment notice appeal "
             "eligible household income tenant student carer manager office region").split()
    rng = random.Random(marker)
    sections = []
    for n in range(passages):
        sections.append(f"## Part {n + 1}\n\n{marker} " + " ".join(rng.choice(words) for _ in range(190)) + ".")
    body = f"# Handbook {marker}\n\n" + "\n\n".join(sections)
    return body[:MAX_BODY_CHARS - 100]


def approvals(args: argparse.Namespace) -> None:
    import httpx

    corpus = load_corpus(args.directory)
    work = Path(tempfile.mkdtemp(prefix="kb-approvals-"))
    write_markdown(corpus, work / "md")
    run = Run(args.database_url, work)
    contributor = {"Authorization": f"Bearer {run.cast['contributor'].token}"}
    owner = {"Authorization": f"Bearer {run.cast['owner'].token}"}
    reader = {"Authorization": f"Bearer {run.cast['reader'].token}"}
    sizes = [1, 5, 20, 100, 400, 1300]
    client = httpx.Client(base_url=run.server.url, timeout=300)

    def create(slug: str, passages: int) -> None:
        body = {"slug": slug, "title": f"Handbook {slug}", "body_md": body_of(passages, slug.replace("-", "")),
                "audience": "internal", "language": "en", "intended_use": "Bench", "licence": "CC0"}
        client.post("/api/v1/spaces/benefits/documents", json=body, headers=contributor).raise_for_status()
        client.post(f"/api/v1/documents/{slug}/versions/1/submit", json={}, headers=contributor).raise_for_status()

    def approve_and_wait(slug: str) -> tuple[float, float]:
        start = time.perf_counter()
        client.post(f"/api/v1/documents/{slug}/versions/1/approve", json={}, headers=owner).raise_for_status()
        request_ms = (time.perf_counter() - start) * 1000
        while client.get(f"/api/v1/documents/{slug}", headers=reader).json()["search"] != "searchable":
            time.sleep(0.05)
        lag = time.perf_counter() - start
        hits = client.get("/api/v1/search", params={"q": slug.replace("-", ""), "mode": "keyword"}, headers=reader).json()["data"]
        assert any(hit["document"] == slug for hit in hits), f"{slug} searchable but not found"
        return request_ms, lag

    try:
        ahead = [(f"ahead-{n}", sizes[n % len(sizes)]) for n in range(args.approvals)]
        for slug, passages in ahead:
            create(slug, passages)
        while run.unencoded():  # reviewed for a while: the worker has encoded them
            time.sleep(0.5)
        print(f"{len(ahead)} documents in review, passages={run.passages()}, all encoded ahead")
        importer = run.kb_import(work / "md", work / "import.json", background=True)
        time.sleep(10)
        results = {"encoded while in review": [], "approved as soon as submitted": []}
        for slug, passages in ahead:
            request_ms, lag = approve_and_wait(slug)
            results["encoded while in review"].append((passages, request_ms, lag, importer.poll() is None))
        for n, passages in enumerate(sizes[:4] * 2):
            slug = f"fresh-{n}"
            create(slug, passages)
            request_ms, lag = approve_and_wait(slug)
            results["approved as soon as submitted"].append((passages, request_ms, lag, importer.poll() is None))
        still = importer.poll() is None
        importer.wait()
        print(f"bulk import {'still running at the end' if still else 'had ended before the last approval'}: "
              f"{(importer.stdout.read() or '').strip().splitlines()[-1:]}")
        for label, rows in results.items():
            during = [r for r in rows if r[3]]
            print(f"{label}: approvals={len(rows)} (during the import: {len(during)}) "
                  f"request_ms p50={statistics.median(r[1] for r in rows):.0f} p95={percentile([r[1] for r in rows], 95):.0f} "
                  f"max={max(r[1] for r in rows):.0f}; lag_s p50={statistics.median(r[2] for r in rows):.2f} "
                  f"p95={percentile([r[2] for r in rows], 95):.2f} max={max(r[2] for r in rows):.2f}")
            for passages in sorted({r[0] for r in rows}):
                same = [r for r in rows if r[0] == passages]
                print(f"  {passages:>5} passages: request_ms max={max(r[1] for r in same):.0f} lag_s max={max(r[2] for r in same):.2f}")
    finally:
        client.close()
        run.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=["throughput", "approvals"])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--pdfs", type=int, default=0, help="throughput: also import the first N documents as PDFs")
    parser.add_argument("--pdfs-only", action="store_true", help="throughput: the PDFs alone, on a server that has done nothing else")
    parser.add_argument("--sample", type=int, default=2000, help="throughput: passages the raw encoder is timed on")
    parser.add_argument("--import-nice", type=int, default=0,
                        help="throughput: run kb import (and its parsers) at this niceness (an experiment; kb does not)")
    parser.add_argument("--approvals", type=int, default=20, help="approvals: documents encoded in review, then approved")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    (throughput if args.part == "throughput" else approvals)(args)


if __name__ == "__main__":
    main()
