"""The import rules of STYLE.md hold (import-linter contracts in pyproject.toml)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_routes_hold_no_transactions_outside_kb_db() -> None:
    """Services never commit: only kb.db.transaction (called by routes, CLI and fixtures) does."""
    offenders = []
    for path in (ROOT / "kb").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"session\.commit\(\)", text) and path.name != "db.py" and "migrations" not in path.parts:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
