"""``kb`` commands: the audit log: verify, checkpoint, export.

Operator commands, run as ``kb.actors.SYSTEM``. ``verify`` goes through the action its API twin uses
(``kb.provenance.actions.verify_chain``); ``checkpoint`` and ``export`` have no twin on the API or the
web (they write files on the operator's machine) and read the log through ``kb.provenance``'s
public functions. None of them changes state.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from kb.cli.common import audit_app, fail, open_database

# ----------------------------------------------------------------------------------------- audit

@audit_app.command("verify")
def audit_verify(
    checkpoint: Annotated[Optional[Path], typer.Option(help="Checkpoint file from `kb audit checkpoint`; also detects truncation and recomputation")] = None,
) -> None:
    """Verify the audit hash chain; print the count and head, or the first broken sequence number."""
    from kb import provenance
    from kb.actors import SYSTEM
    from kb.provenance import actions

    database = open_database(migrate=False)
    try:
        point = provenance.read_checkpoint(checkpoint) if checkpoint else None
    except (OSError, ValueError) as exc:
        raise fail(str(exc)) from None
    with database.session() as session:
        result = actions.verify_chain(session, SYSTEM, checkpoint=point)
    if result.ok:
        typer.echo(f"OK: {result.count} events, head seq {result.head_seq}, head hash {result.head_hash}")
        return
    raise fail(f"chain broken at seq {result.first_bad_seq}: {result.reason}", 3)


@audit_app.command("checkpoint")
def audit_checkpoint(
    out: Annotated[Path, typer.Argument(help="File to write (keep it outside the database, e.g. on another machine)")],
) -> None:
    """Write the current (sequence, head hash) to a file outside the database."""
    from kb import provenance

    database = open_database(migrate=False)
    with database.session() as session:
        data = provenance.write_checkpoint(session, out)
    typer.echo(f"Checkpoint seq {data['seq']} hash {data['hash']} written to {out}")


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Argument(help="JSON Lines file to write ('-' for standard output)")],
) -> None:
    """Export every audit event as JSON Lines."""
    from kb import provenance

    database = open_database(migrate=False)
    with database.session() as session:
        if str(out) == "-":
            count = provenance.export_jsonl(session, sys.stdout)
        else:
            with out.open("w", encoding="utf-8") as handle:
                count = provenance.export_jsonl(session, handle)
    typer.echo(f"Exported {count} events", err=True)
