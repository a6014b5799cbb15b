"""Median wall time of `kb --help` as a whole process (issue 2: well under 1 s).

Usage: .venv/bin/python bench/cli_startup.py [RUNS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

runs = int(sys.argv[1]) if len(sys.argv) > 1 else 21
kb = Path(sys.executable).with_name("kb")
timings = []
for _ in range(runs):
    start = time.perf_counter()
    subprocess.run([str(kb), "--help"], check=True, capture_output=True)
    timings.append((time.perf_counter() - start) * 1000)
heavy = subprocess.run([sys.executable, "-c", "import sys, kb.cli; print([m for m in ('torch','sentence_transformers','faiss') if m in sys.modules])"],
                       capture_output=True, text=True, check=True).stdout.strip()
print(f"kb --help runs={runs} median_ms={statistics.median(timings):.0f} p95_ms={sorted(timings)[int(0.95 * (runs - 1))]:.0f} "
      f"heavy_modules_imported={heavy}")
