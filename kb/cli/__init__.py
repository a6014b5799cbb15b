"""The ``kb`` command line: one command per user action, calling services in-process.

Module-level imports are limited to Typer so that ``kb --help`` stays fast; each command imports
what it needs. User errors exit non-zero with one clear line.
"""

from __future__ import annotations

import os

# Each module registers its commands on import; this order is the order of `kb --help`.
from kb.cli import accounts, audit, documents, experts, moderation, notify, search, setup, taxonomy, transparency, work  # noqa: F401, I001
from kb.cli.common import app

__all__ = ["app", "main"]


def _usage_errors_are_bad_input() -> None:
    """A command line the parser refuses (a missing option, a word where a number goes) is bad input like any
    other: exit 1, not Click's 2, which kb keeps for refusals (docs/cli.md, "Exit status"). Typer runs its own
    copy of Click (``typer._click``) where it has one, else Click: only the one it runs is imported (Click
    itself costs ``kb --help`` 5 ms)."""
    import importlib

    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            importlib.import_module(module).UsageError.exit_code = 1
        except ImportError:
            continue
        return


_usage_errors_are_bad_input()


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    app()
