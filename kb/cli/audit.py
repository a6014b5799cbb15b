"""``kb`` commands: the audit log: verify, checkpoint (signed tree heads), export.

Operator commands, run as ``kb.actors.SYSTEM``. ``verify`` goes through the action its API and web twins
use (``kb.documents.actions.audit_database``); ``checkpoint`` and ``export`` have no twin on the API or the
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
    checkpoint: Annotated[Optional[Path], typer.Option(help="Checkpoint or signed tree head from `kb audit checkpoint` (e.g. DIR/latest.json); also detects truncation and recomputation, and checks that the log only grew since the head was signed")] = None,
    allow_uncovered: Annotated[bool, typer.Option("--allow-uncovered", help="Accept events appended after the signed head (list them, exit 0): for a head older than the latest")] = False,
) -> None:
    """Verify the audit log and the database against it; print the count and head, or every problem found.

    Checks the hash chain (names the first broken sequence number), then re-derives what readers are
    served — each version's body, provenance, author, approver and state, each space's safeguards and
    members, each person's role — and names every difference from what the log commits to. With a
    signed tree head, also verifies its Ed25519 signature (current key or KB_TRUSTED_KEYS), that the
    log's first tree_size events still hash to its Merkle root, and that no event lies beyond it
    unless --allow-uncovered (docs/transparency.md). Exit status 3 when anything does not hold.
    """
    from kb import provenance
    from kb.actors import SYSTEM
    from kb.documents import actions as documents

    database = open_database(migrate=False)
    try:
        point = provenance.read_checkpoint(checkpoint) if checkpoint else None
    except (OSError, ValueError) as exc:
        raise fail(str(exc)) from None
    settings = database.settings
    with database.session() as session:
        try:
            audit, differences = documents.audit_database(session, SYSTEM, checkpoint=point,
                                                          signing_key=settings.signing_key_path,
                                                          trusted_keys=settings.trusted_keys, parallel=True)
        except (OSError, ValueError) as exc:
            raise fail(str(exc)) from None
        result, head = audit.chain, audit.head
        uncovered = (provenance.list_events(session, after_seq=head.tree_size, limit=10)
                     if head is not None and head.ok and head.uncovered else [])
    problems = []
    if head is not None and not head.ok:
        problems.append(f"signed tree head of size {head.tree_size} does not hold: {head.reason}")
    if not result.ok:
        problems.append(f"chain broken at seq {result.first_bad_seq}: {result.reason}")
    for event in uncovered:
        typer.secho(f"not covered: seq {event.seq} {event.at} {event.action} {event.object_type} {event.object_id} "
                    f"by {event.actor_name} ({event.channel or 'no channel'})", err=True,
                    fg=typer.colors.YELLOW if allow_uncovered else typer.colors.RED)
    if head is not None and head.ok and head.uncovered and not allow_uncovered:
        problems.append(f"{head.uncovered} events (seq {head.tree_size + 1}..{head.log_size}) are covered by no signed "
                        "tree head: if this is the latest head they were inserted outside kb; if it is an older one, "
                        "verify against the latest (or pass --allow-uncovered)")
    for difference in differences:
        typer.secho(f"differs: {difference['message']}", err=True, fg=typer.colors.RED)
    if differences:
        problems.append(f"{len(differences)} differences between the database and what the log commits to (above)")
    if problems:
        raise fail("; ".join(problems), 3)
    typer.echo(f"OK: {result.count} events, head seq {result.head_seq}, head hash {result.head_hash}; "
               "every document version, space, person and taxonomy concept in the database is what the log commits to")
    if not audit.authenticated:
        typer.echo(f"Not checked: whether kb wrote each event (no event key at {settings.event_key_path})")
    if head is not None:
        covered = (f"{head.uncovered} later events (seq {head.tree_size + 1}..{head.log_size}) are not covered by a "
                   "signed head yet (--allow-uncovered)" if head.uncovered else "every event is covered by it")
        typer.echo(f"Signed tree head of size {head.tree_size} ({point['timestamp']}, key {point['key_id']}): "
                   f"signature verifies, the log only grew since; {covered}")


@audit_app.command("checkpoint")
def audit_checkpoint(
    out: Annotated[Optional[Path], typer.Argument(help="File to write (keep it outside the database, e.g. on another machine)")] = None,
    to: Annotated[Optional[Path], typer.Option("--to", help="Directory to publish: writes <tree_size>.json and latest.json")] = None,
) -> None:
    """Write a signed tree head of the audit log (Merkle root, size, Ed25519 signature) outside the database.

    The file also holds the chain head's (sequence, hash). The signing key is KB_SIGNING_KEY_FILE,
    created (mode 0600) if missing.
    """
    from kb import provenance

    if out is None and to is None:
        raise fail("Give a FILE to write, or --to DIR")
    database = open_database(migrate=False)
    key = database.settings.signing_key_path
    try:
        if provenance.ensure_signing_key(key):
            typer.echo(f"Created signing key {key}", err=True)
        with database.session() as session:
            written = []
            if out is not None:
                data = provenance.write_checkpoint(session, out, signing_key=key)
                written.append(str(out))
            if to is not None:
                data = provenance.publish_tree_head(session, to, key)
                written.append(f"{to / (str(data['tree_size']) + '.json')} and {to / 'latest.json'}")
    except (OSError, ValueError, provenance.ChainBroken) as exc:
        raise fail(str(exc)) from None
    typer.echo(f"Signed tree head: size {data['tree_size']}, root {data['root_hash']}, key {data['key_id']}; "
               f"chain head seq {data['seq']} hash {data['hash']}; written to {' and '.join(written)}")


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
