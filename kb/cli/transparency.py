"""``kb verify-receipt``: check a public document's receipt offline, as a citizen or a journalist would.

No database, no server: the receipt (``GET /public/v1/documents/{slug}/receipt``) carries the event,
its inclusion proof and a signed tree head, and ``kb.provenance.verify_receipt`` checks them with
SHA-256 and Ed25519 only (docs/transparency.md, "Receipts"). Changes nothing.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from kb.cli.common import app, fail

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def _configured_keys() -> list[str]:
    """KB_TRUSTED_KEYS and, on the organisation's own machine, the public half of the current signing key."""
    from kb.config import load_settings

    try:
        settings = load_settings()
    except Exception:  # noqa: BLE001  # a citizen's machine has no kb configuration: trust nothing from it
        return []
    keys = list(settings.trusted_keys)
    try:
        from kb import provenance

        if settings.signing_key_path.exists():
            keys.append(provenance.signing_key_info(settings.signing_key_path)["public_key"])
    except (OSError, ValueError):
        pass
    return keys


@app.command("verify-receipt")
def verify_receipt(
    file: Annotated[Path, typer.Argument(help="A receipt (JSON) from GET /public/v1/documents/{slug}/receipt", exists=True,
                                         dir_okay=False, readable=True)],
    key: Annotated[Optional[list[str]], typer.Option(
        "--key", help="A key you trust: its fingerprint (the key_id the organisation publishes, 64 hex digits) or "
                      "the raw Ed25519 public key (64 hex digits); repeatable. KB_TRUSTED_KEYS are trusted too")] = None,
    body: Annotated[Optional[Path], typer.Option(help="A text file to compare with the receipt's body_sha256 (the "
                                                      "document's body_md as served, UTF-8)", exists=True,
                                                 dir_okay=False)] = None,
) -> None:
    """Check a public document's receipt offline: its event, inclusion proof, signed tree head and key.

    Recomputes the Merkle root from the event's leaf bytes and the inclusion proof (RFC 9162), verifies
    the head's Ed25519 signature over that root, and says whether the signing key is
    one you trust (--key, KB_TRUSTED_KEYS). Prints the document, version and body SHA-256 it attests.
    Exit 0 when the receipt holds, 3 (with the reason) when it does not.
    """
    from kb import provenance

    keys = []
    for item in key or []:
        if not _HEX64.fullmatch(item.strip()):
            raise fail(f"--key {item!r} is not 64 hex digits (a key fingerprint or a raw Ed25519 public key)")
        keys.append(item.strip().lower())
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise fail(str(exc)) from None
    result = provenance.verify_receipt(data, keys + _configured_keys())
    problems = list(result.problems)
    if body is not None and result.ok:
        digest = hashlib.sha256(body.read_bytes()).hexdigest()
        if digest != result.body_sha256:
            problems.append(f"{body} has SHA-256 {digest}, not the body_sha256 {result.body_sha256} the receipt attests")
    if problems:
        raise fail(f"the receipt does not hold: {'; '.join(problems)}", 3)
    typer.echo(f"OK: document {result.document} version {result.version} was published at {result.published_at}, "
               f"audit event {result.seq} (approval_seq {result.approval_seq}: the approval is audit event "
               f"{result.approval_seq})")
    typer.echo(f"body_sha256 {result.body_sha256}" + (f" = SHA-256 of {body}" if body is not None else ""))
    typer.echo(f"in the audit log of {result.tree_size} events whose root {result.root_hash} the tree head of "
               f"{result.timestamp} signs")
    if result.key_trusted:
        typer.echo(f"signed by key {result.key_id}, which you trust")
    else:
        typer.secho(f"signed by the key the receipt carries, fingerprint {result.key_id}, which you have not said you "
                    "trust: compare it with the fingerprint the organisation publishes, then pass it with --key",
                    fg=typer.colors.YELLOW)
