"""Hostile .docx (RELIABILITY T10): mutations of real files and named bombs through kb's import parser.

Counts outcomes: accepted, refused with a clear 4xx (KbError), or an unexpected exception (would be a
5xx; the goal is 0). Reports the slowest parse and the peak RSS growth.

Usage: .venv/bin/python bench/docx_fuzz.py [MUTATIONS] [SEED_DIR]
"""

from __future__ import annotations

import io
import random
import resource
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.documents.ingest_docx import MAX_INFLATED_BYTES, parse_upload  # noqa: E402
from kb.errors import KbError  # noqa: E402
from tests.hostile_files import mutate, zipped  # noqa: E402

mutations = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
seed_dir = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT.parent / "shared" / "data" / "docx"
seeds = [p.read_bytes() for p in sorted(seed_dir.glob("*.docx"))] + \
        [p.read_bytes() for p in sorted((ROOT / "kb" / "sample" / "documents").glob("*.docx"))]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def with_document_xml(document_xml: bytes) -> bytes:
    """A real .docx whose main part is replaced, so the hostile XML reaches python-docx's parser."""
    base = (ROOT / "kb" / "sample" / "documents" / "fire-evacuation-procedure.docx").read_bytes()
    with zipfile.ZipFile(io.BytesIO(base)) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members["word/document.xml"] = document_xml
    return zipped(members)


W = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
bombs = {
    "inflates past the limit": zipped({"[Content_Types].xml": b"<x/>", "word/document.xml": b"\0" * (MAX_INFLATED_BYTES + 1)}),
    "ratio 1000:1": zipped({"[Content_Types].xml": b"<x/>", "word/document.xml": b"a" * (50 * 1024 * 1024)}),
    "billion laughs": with_document_xml(
        b'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY a "aaaaaaaaaa">' +
        b"".join(b'<!ENTITY %c "%s">' % (ord("b") + i, (b"&" + bytes([ord("a") + i]) + b";") * 10) for i in range(8)) +
        b"]><w:document " + W + b"><w:body><w:p><w:r><w:t>&i;</w:t></w:r></w:p></w:body></w:document>"),
    "xxe": with_document_xml(
        b'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<w:document " + W + b"><w:body><w:p><w:r><w:t>&x;</w:t></w:r></w:p></w:body></w:document>"),
}

rng = random.Random(1)
outcomes: Counter[str] = Counter()
unexpected: Counter[str] = Counter()
slowest = 0.0
rss_before = rss_mb()
cases = [(f"mutation-{i}", mutate(seeds[i % len(seeds)], rng)) for i in range(mutations)] + list(bombs.items())
for name, data in cases:
    start = time.perf_counter()
    try:
        parse_upload(f"{name}.docx", data)
        outcomes["accepted"] += 1
    except KbError:
        outcomes["refused_4xx"] += 1
    except Exception as exc:  # noqa: BLE001 - what we count
        outcomes["unexpected_5xx"] += 1
        unexpected[type(exc).__name__] += 1
    slowest = max(slowest, time.perf_counter() - start)
for name, data in bombs.items():
    try:
        markdown = parse_upload("bomb.docx", data).markdown
        verdict = f"accepted, {len(markdown)} chars, entities not expanded" if "root:" not in markdown and len(markdown) < 10_000 else "EXPANDED"
    except KbError as exc:
        verdict = f"refused: {exc.message[:70]}"
    print(f"bomb {name}: {verdict}")
print(f"docx fuzz cases={len(cases)} seeds={len(seeds)} accepted={outcomes['accepted']} refused_4xx={outcomes['refused_4xx']} "
      f"unexpected_5xx={outcomes['unexpected_5xx']} {dict(unexpected)} max_parse_s={slowest:.2f} "
      f"rss_growth_mb={rss_mb() - rss_before:.0f}")
