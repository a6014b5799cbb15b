"""Hostile PDF and HTML (issue 19): mutations of real files and named bombs through kb's import parser.

Counts outcomes like bench/docx_fuzz.py: accepted, refused with a clear 4xx (KbError with a 4xx
status), or anything else (an unexpected exception, a 5xx KbError: would be a 500; the goal is 0).
A parse over ``HANG_SECONDS`` counts as a hang. Reports the slowest parse and the peak RSS growth.

Seeds: the PDFs of tests/data/pdf (py-pdf/sample-files, CC-BY-SA-4.0), generated PDFs
(tests.hostile_files.pdf_file) and the saved intranet page of tests/test_import_formats.py.

Usage: .venv/bin/python bench/pdf_html_fuzz.py [MUTATIONS]
"""

from __future__ import annotations

import random
import resource
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.documents.ingest_docx import parse_upload  # noqa: E402
from kb.errors import KbError  # noqa: E402
from tests.hostile_files import mutate, pdf_file  # noqa: E402
from tests.test_import_formats import PAGE, POLICY_INFO, POLICY_PDF_PAGES  # noqa: E402

HANG_SECONDS = 20.0
mutations = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
pdf_seeds = [p.read_bytes() for p in sorted((ROOT / "tests" / "data" / "pdf").glob("*.pdf"))] + [
    pdf_file(POLICY_PDF_PAGES, info=POLICY_INFO),
    pdf_file([[(12, "1 Introduction"), (11, "Why the rules exist."), (12, "2 Scope"), (11, "Who.")]],
             outline=[("Introduction", 0), ("Scope", 0)]),
]
html_seeds = [PAGE, PAGE.replace(b"<table>", b"<table><caption>Rates</caption>").replace(b"utf-8", b"iso-8859-1")]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


HELLO = [[(11, "Hello there")]]
DEEP = 100_000
bombs = {
    "pdf flate bomb (500 MB of spaces)": (".pdf", pdf_file(HELLO, content=[b""]).replace(
        b"<< /Length 0 >>\nstream\n\nendstream",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(z := zlib.compress(b" " * (500 * 1024 * 1024), 9)) + z + b"\nendstream")),
    "pdf nested arrays in content": (".pdf", pdf_file(HELLO, content=[b"BT /F1 11 Tf " + b"[" * DEEP + b"]" * DEEP + b" TJ ET"])),
    "pdf nested arrays in page tree": (".pdf", pdf_file(HELLO, page_tree=b"<< /Type /Pages /Kids [5 0 R] /Count 1 /X " + b"[" * DEEP + b"]" * DEEP + b" >>")),
    "pdf nested dictionaries": (".pdf", pdf_file(HELLO, page_tree=b"<< /Type /Pages /Kids [5 0 R] /Count 1 /X " + b"<< /A " * DEEP + b"1" + b" >>" * DEEP + b" >>")),
    "pdf cyclic page tree": (".pdf", pdf_file(HELLO, page_tree=b"<< /Type /Pages /Kids [2 0 R 5 0 R] /Count 2 >>")),
    "pdf endless page tree (5,000 levels)": (".pdf", pdf_file(HELLO, page_tree=b"<< /Type /Pages /Kids [6 0 R] /Count 1 >>", extra=[
        b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % (i + 7) for i in range(5000)] + [b"<< /Type /Pages /Kids [5 0 R] /Count 1 >>"])),
    "pdf count of a billion pages": (".pdf", pdf_file(HELLO, page_tree=b"<< /Type /Pages /Kids [5 0 R] /Count 1000000000 >>")),
    "pdf 3,000 pages": (".pdf", pdf_file([[(11, f"page {i}")] for i in range(3000)])),
    "pdf a million operators": (".pdf", pdf_file(HELLO, content=[b"BT /F1 11 Tf " + b"(a) Tj " * 1_000_000 + b"ET"])),
    "html 200,000 nested divs": (".html", b"<html><body>" + b"<div>" * 200_000 + b"<p>Deep</p>" + b"</div>" * 200_000 + b"</body></html>"),
    "html 300,000 elements": (".html", b"<html><body>" + b"<p>x</p>" * 300_000 + b"</body></html>"),
    "html entity expansion and XXE": (".html", b'<!DOCTYPE html [<!ENTITY x SYSTEM "file:///etc/passwd"><!ENTITY a "aaaaaaaaaa">'
                                       b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><html><body><p>&x; &b;</p>'
                                       b"<p>Some real text of an intranet page that says what the rules are.</p></body></html>"),
    "html a 150,000-cell table": (".html", b"<html><body><table>" + (b"<tr>" + b"<td>c</td>" * 1000 + b"</tr>") * 150 + b"</table></body></html>"),
}

rng = random.Random(19)
outcomes: Counter[str] = Counter()
unexpected: Counter[str] = Counter()
by_kind: Counter[str] = Counter()
slowest = (0.0, "")
rss_before = rss_mb()
started = time.perf_counter()
cases = []
for i in range(mutations):
    suffix, seeds = (".pdf", pdf_seeds) if i % 3 else (".html", html_seeds)
    cases.append((f"mutation-{i}{suffix}", mutate(seeds[i // 3 % len(seeds)], rng)))
cases += [(name + suffix, data) for name, (suffix, data) in bombs.items()]
for name, data in cases:
    start = time.perf_counter()
    try:
        parse_upload(name, data)
        outcomes["accepted"] += 1
    except KbError as exc:
        outcomes["refused_4xx" if exc.code.value[1] < 500 else "unexpected_5xx"] += 1
    except Exception as exc:  # noqa: BLE001 - what we count
        outcomes["unexpected_5xx"] += 1
        unexpected[type(exc).__name__] += 1
    took = time.perf_counter() - start
    by_kind[name.rsplit(".", 1)[1]] += 1
    if took > HANG_SECONDS:
        outcomes["hangs"] += 1
    slowest = max(slowest, (took, name))
for name, (suffix, data) in bombs.items():
    start = time.perf_counter()
    try:
        markdown = parse_upload("bomb" + suffix, data).markdown
        verdict = f"accepted, {len(markdown)} chars" + (" (entities not expanded)" if "root:" not in markdown and "aaaaaaaaaa" not in markdown else " EXPANDED")
    except KbError as exc:
        verdict = f"refused: {exc.message[:90]}"
    print(f"bomb {name}: {verdict} ({time.perf_counter() - start:.2f} s)")
print(f"pdf/html fuzz cases={len(cases)} (pdf={by_kind['pdf']} html={by_kind['html']}) seeds={len(pdf_seeds)}+{len(html_seeds)} "
      f"accepted={outcomes['accepted']} refused_4xx={outcomes['refused_4xx']} unexpected_5xx={outcomes['unexpected_5xx']} "
      f"{dict(unexpected)} hangs(>{HANG_SECONDS:g}s)={outcomes['hangs']} max_parse_s={slowest[0]:.2f} ({slowest[1]}) "
      f"total_s={time.perf_counter() - started:.0f} rss_growth_mb={rss_mb() - rss_before:.0f}")
