"""Provenance: the append-only, hash-chained audit log and W3C PROV export.

This package is the only writer of audit rows. Every service calls ``record`` inside the caller's
transaction; nothing else imports ``kb.provenance.models`` or ``kb.provenance.chain``
(import-linter contract). Must not import any other kb domain.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from kb.actors import SYSTEM_ACTOR_NAME, Actor
from kb.db import EVENT_KEY_PATH, utcnow
from kb.events import RECORD_HOOKS_KEY, Recorded
from kb.provenance import chain, eventkeys, merkle, receipts, transparency
from kb.provenance.replay import Committed, CommittedState, committed_state
from kb.provenance.chain import VerifyResult, canonical_json, event_time
from kb.provenance.receipts import ReceiptCheck
from kb.provenance.transparency import ChainBroken, HeadCheck
from kb.provenance.models import AuditEvent
from kb.provenance.prov_export import (
    FORMATS as PROV_FORMATS, DocumentRecord, PersonRecord, VersionRecord, build_prov, check_prov,
)
from kb.provenance.prov_export import deserialize as deserialize_prov
from kb.provenance.prov_export import serialize as serialize_prov

_sha256 = hashlib.sha256

__all__ = [
    "AuditEvent", "VerifyResult", "record", "verify_chain", "write_checkpoint", "read_checkpoint",
    "list_events", "events_since", "head", "canonical_json", "export_jsonl",
    "PROV_FORMATS", "DocumentRecord", "PersonRecord", "VersionRecord", "build_prov", "check_prov",
    "serialize_prov", "deserialize_prov",
    "ChainBroken", "HeadCheck", "ensure_signing_key", "signing_key_info", "sign_tree_head", "publish_tree_head",
    "check_tree_head", "inclusion_proof", "consistency_proof", "root_hash", "receipt", "verify_receipt", "ReceiptCheck",
    "RECEIPT_FORMAT",
    "Committed", "CommittedState", "committed_state", "LogAudit", "audit_log", "created_by_people",
    "password_choosers", "chain_between", "chosen_passwords", "event_time",
]


def record(
    session: Session,
    actor: Actor,
    action: str,
    subject: tuple[str, object],
    detail: dict[str, Any] | None = None,
    *,
    rows: tuple[Any, ...] = (),
) -> AuditEvent:
    """Append one audit event for a state change, in the caller's (uncommitted) transaction.

    Args:
        session: the session whose transaction also holds the change being recorded.
        actor: who did it; ``kb.actors.SYSTEM`` for kb itself (bootstrap, migrations, operator commands).
        action: a dotted action name from docs/audit.md, e.g. ``document.approve``.
        subject: ``(object_type, object_id)`` of the thing changed.
        detail: JSON-serialisable facts about the change (what changed, from what, to what).
        rows: the rows the change is about, as this transaction holds them, handed to the record hooks
            (``Recorded.rows``) so they need not read them again; not recorded.

    Returns:
        The event, with its sequence number and hash.
    """
    object_type, object_id = subject
    event = chain.append(
        session,
        actor_id=None if actor.system else actor.id,
        actor_name=SYSTEM_ACTOR_NAME if actor.system else actor.username,
        channel=actor.channel.value,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        payload=detail or {},
    )
    hooks = session.info.get(RECORD_HOOKS_KEY)
    if hooks:  # e.g. the notifications outbox: written in this transaction, so it commits or rolls back with the event
        recorded = Recorded(seq=event.seq, action=action, object_type=object_type, object_id=str(object_id),
                            actor_id=event.actor_id, actor_name=event.actor_name, detail=dict(detail or {}), rows=rows)
        for hook in hooks:
            hook(session, recorded)
    return event


def verify_chain(session: Session, checkpoint: dict[str, Any] | None = None) -> VerifyResult:
    """Verify the whole chain, optionally against an exported checkpoint."""
    return chain.verify(session, checkpoint)


@dataclass(frozen=True)
class LogAudit:
    """What ``kb audit verify`` learns from one read of the log: the chain, the signed head, the commitments."""

    chain: VerifyResult
    """Includes whether kb wrote every event (their MACs), when the event key is here (``authenticated``)."""
    authenticated: bool
    head: HeadCheck | None
    """None without a signed head to check."""
    state: CommittedState
    """The newest commitment of every object (complete only when the chain holds)."""


def audit_log(
    session: Session, checkpoint: dict[str, Any] | None = None, *, signing_key: Path | None = None,
    trusted_keys: list[str] = (),  # type: ignore[assignment]
    parallel: bool = False,
) -> LogAudit:
    """Verify the chain, rebuild the Merkle tree and replay the commitments in one pass over the log,
    then check ``checkpoint`` if it is a signed tree head (as ``check_tree_head``).

    ``parallel``: on a long log, check it as two parts at once in two processes (``kb.provenance.parallel``;
    the same result, or this one pass wherever anything is wrong). Only where forking is safe: the CLI.
    """
    signed = checkpoint is not None and "signature" in checkpoint
    size = checkpoint.get("tree_size") if signed else None  # type: ignore[union-attr]
    size = size if isinstance(size, int) and not isinstance(size, bool) else None  # else check_head names it
    event_key = eventkeys.load(session.info.get(EVENT_KEY_PATH), create=False)

    def head_check(result: VerifyResult, root: bytes | None) -> HeadCheck | None:
        if not signed:
            return None
        trusted = [bytes.fromhex(item) for item in trusted_keys]
        if signing_key is not None and signing_key.exists():
            trusted.append(transparency.raw_public_key(transparency.load_key(signing_key)))
        computed = (result.count, root) if result.ok else None
        return transparency.check_head(session, checkpoint, trusted, computed)  # type: ignore[arg-type]

    if parallel:  # the CLI's choice (the server never forks): multiprocessing is imported only then
        from kb.provenance.parallel import audit_in_two

        log_size = session.execute(select(func.max(AuditEvent.seq))).scalar_one() or 0
        done = audit_in_two(session, log_size=log_size, size=size, checkpoint=checkpoint, event_key=event_key,
                            head_check=head_check)
        if done is not None:
            return LogAudit(done[0], event_key is not None, done[2], done[1])

    roots = merkle.RootAccumulator()
    root_at_size: list[bytes] = [merkle.EMPTY_ROOT] if size == 0 else []
    state = CommittedState()
    add = state.add

    def visit(envelope: bytes, action: str, object_type: str, object_id: str, payload: str, seq: int) -> None:
        if size is not None and seq <= size:
            roots.append(_sha256(b"\x00" + envelope).digest())
            if seq == size:
                root_at_size.append(roots.root())
        add(action, object_type, object_id, payload, seq)

    result = chain.verify(session, checkpoint, visit=visit, event_key=event_key)
    state.finish()
    return LogAudit(result, event_key is not None, head_check(result, root_at_size[0] if root_at_size else None), state)


def created_by_people(session: Session) -> list[str]:
    """The usernames whose ``user.create`` came through the API, the web or the CLI (not from kb's bootstrap)."""
    return list(session.execute(select(AuditEvent.object_id).where(
        AuditEvent.action == "user.create", AuditEvent.channel.in_(("api", "web", "cli")))).scalars())  # type: ignore[union-attr]


PASSWORD_CHAIN_LIMIT = 64  # accounts up a chain of "who chose whose password": far more than any organisation has


def password_choosers(session: Session, usernames: list[str]) -> dict[str, list[tuple[int, str]]]:
    """For each of these usernames, who chose its password, who chose that person's, and so on up the
    chain, nearest first, as (id, username): the actor of each account's ``user.create`` with a password
    (kb sets no password otherwise). The chain ends at an account the bootstrap created (``SYSTEM``) or
    one made without a password: no person knows such a password from creating the account.

    Whoever chose a password can sign in as the account, and so can create accounts as it, whose
    passwords that first person knows too: an admin's puppet made admin with a colleague's good-faith
    approval could otherwise create the next puppet "in its own name".
    """
    chains: dict[str, list[tuple[int, str]]] = {name: [] for name in usernames}
    chooser_of: dict[str, tuple[int, str] | None] = {}
    tips = {name: name for name in usernames}  # for each username, the account its chain has reached
    while tips:
        unread = sorted({tip for tip in tips.values() if tip not in chooser_of})
        if unread:
            rows = session.execute(select(AuditEvent.object_id, AuditEvent.actor_id, AuditEvent.actor_name,
                                          AuditEvent.payload).where(
                AuditEvent.action == "user.create", AuditEvent.object_type == "user",
                AuditEvent.object_id.in_(unread), AuditEvent.actor_id.is_not(None)))  # type: ignore[union-attr, attr-defined]
            found = {name: (int(actor_id), actor_name) for name, actor_id, actor_name, payload in rows
                     if json.loads(payload).get("has_password")}
            chooser_of.update({name: found.get(name) for name in unread})
        reached = {}
        for origin, tip in tips.items():
            chooser = chooser_of[tip]
            if (chooser is None or chooser[1] == origin or chooser in chains[origin]
                    or len(chains[origin]) >= PASSWORD_CHAIN_LIMIT):
                continue
            chains[origin].append(chooser)
            reached[origin] = chooser[1]
        tips = reached
    return chains


def chain_between(chains: dict[str, list[tuple[int, str]]], first: str, second: str) -> list[str] | None:
    """Whether one of two accounts chose the other's password, itself or through accounts whose passwords
    it chose (``chains``: ``password_choosers`` of both, and more): then one person can act as both. The
    chain of usernames from the one who chose to the account (``[adam, pat1, pat2]``: adam chose pat1's
    password, and pat1 pat2's), or None."""
    for account, other in ((first, second), (second, first)):
        names = [name for _, name in chains[account]]
        if other in names:
            return [*reversed(names[:names.index(other) + 1]), account]
    return None


def chosen_passwords(chain: list[str]) -> str:
    """``[adam, pat1, pat2]`` in words: "adam chose pat1's password when creating the account, and pat1 pat2's"."""
    said = f"{chain[0]} chose {chain[1]}'s password when creating the account"
    return said + "".join(f", and {chooser} {account}'s" for chooser, account in zip(chain[1:], chain[2:]))


def head(session: Session) -> tuple[int, str]:
    """The (sequence, hash) of the newest audit event."""
    return chain.head(session)


def write_checkpoint(session: Session, path: Path, *, signing_key: Path | None = None) -> dict[str, Any]:
    """Write the current (sequence, head hash) to ``path``, a file kept outside the database.

    With ``signing_key`` the file is a signed tree head (``sign_tree_head``) that also carries the
    (seq, hash) of the chain head, so it serves both checks of ``kb audit verify --checkpoint``.

    Raises:
        FileNotFoundError, ValueError: the signing key is missing or not an Ed25519 key.
        ChainBroken: the chain does not hold; no head is signed over it.
    """
    if signing_key is None:
        seq, digest = chain.head(session)
        data: dict[str, Any] = {"seq": seq, "hash": digest, "written_at": utcnow().isoformat()}
    else:
        data = sign_tree_head(session, signing_key)
    _write_json(path, data)
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def ensure_signing_key(path: Path) -> bool:
    """Create the Ed25519 tree-head signing key in ``path`` (mode 0600) unless it exists; True if created."""
    return transparency.ensure_key(path)


def signing_key_info(path: Path) -> dict[str, str]:
    """The public half of the signing key in ``path``: ``algorithm``, ``public_key`` (raw, hex), PEM, ``key_id``."""
    return transparency.public_key_info(transparency.load_key(path))


def sign_tree_head(session: Session, signing_key: Path) -> dict[str, Any]:
    """A tree head of the whole log now, signed with the key in ``signing_key`` (docs/transparency.md).

    Returns:
        ``{tree_size, root_hash, timestamp, key_id, signature, algorithm, public_key, seq, hash}``;
        the signature covers the first four.

    Raises:
        FileNotFoundError, ValueError: the key is missing or not an Ed25519 key.
        ChainBroken: an event appended since the last head breaks the chain.
    """
    key = transparency.load_key(signing_key)
    tree, last_hash = transparency.current_tree(session)
    return transparency.sign_head(key, tree_size=len(tree), root_hash=tree.root(), chain_hash=last_hash)


def publish_tree_head(session: Session, directory: Path, signing_key: Path) -> dict[str, Any]:
    """Sign a tree head and write it as ``<tree_size>.json`` and ``latest.json`` in ``directory``.

    The directory is meant to be published (a git repository, a web server): each file is the
    signed head with the public key, which outsiders keep to witness that history only grows.
    """
    data = sign_tree_head(session, signing_key)
    _write_json(directory / f"{data['tree_size']}.json", data)
    _write_json(directory / "latest.json", data)
    return data


def check_tree_head(
    session: Session, head: dict[str, Any], *, signing_key: Path | None, trusted_keys: list[str],
) -> HeadCheck:
    """Check a signed tree head against the log as stored now (no cache).

    The signature must verify under the current signing key (if its file is here) or one of
    ``trusted_keys`` (raw public keys, hex), and the log's first ``tree_size`` events must hash to the
    head's root: the log only grew since it was signed. ``HeadCheck.uncovered`` counts the events after it.
    """
    trusted = [bytes.fromhex(item) for item in trusted_keys]
    if signing_key is not None and signing_key.exists():
        trusted.append(transparency.raw_public_key(transparency.load_key(signing_key)))
    return transparency.check_head(session, head, trusted)


def inclusion_proof(session: Session, seq: int, tree_size: int | None = None) -> dict[str, Any]:
    """The RFC 9162 inclusion proof of event ``seq`` (leaf index ``seq - 1``) in the tree of ``tree_size`` events.

    Raises:
        ValueError: ``seq`` or ``tree_size`` is outside the log.
        ChainBroken: the chain does not hold.
    """
    tree, _last = transparency.current_tree(session)
    size = len(tree) if tree_size is None else tree_size
    proof = tree.inclusion_proof(seq - 1, size)
    return {"seq": seq, "leaf_index": seq - 1, "tree_size": size, "leaf_hash": tree.leaf(seq - 1).hex(),
            "root_hash": tree.root(size).hex(), "path": [node.hex() for node in proof]}


def consistency_proof(session: Session, old_size: int, new_size: int | None = None) -> list[str]:
    """The RFC 9162 consistency proof between the trees of ``old_size`` and ``new_size`` events, hex."""
    tree, _last = transparency.current_tree(session)
    return [node.hex() for node in tree.consistency_proof(old_size, new_size)]


def root_hash(session: Session, tree_size: int) -> str:
    """MTH of the first ``tree_size`` events, hex (served from the per-process tree).

    Raises:
        ValueError: ``tree_size`` is outside the log.
        ChainBroken: the chain does not hold.
    """
    tree, _last = transparency.current_tree(session)
    return tree.root(tree_size).hex()


RECEIPT_FORMAT = receipts.FORMAT


def receipt(session: Session, seq: int, signing_key: Path) -> dict[str, Any]:
    """The receipt of event ``seq``: its leaf bytes, its inclusion proof and a tree head signed now (``kb-receipt/1``).

    Anyone can check it offline with ``verify_receipt`` or the algorithm of docs/transparency.md
    ("Receipts"). The head covers the whole log as it is now, so a receipt fetched later carries a
    larger tree and a longer-lived proof; both verify.

    Raises:
        FileNotFoundError, ValueError: the key is missing or not an Ed25519 key; ``seq`` is outside the log.
        ChainBroken: the chain does not hold; no head is signed over it.
    """
    key = transparency.load_key(signing_key)
    tree, last_hash = transparency.current_tree(session)
    if not 1 <= seq <= len(tree):
        raise ValueError(f"no event {seq} in a log of {len(tree)} events")
    row = next(chain.leaf_rows(session, after_seq=seq - 1))
    leaf = row[1]
    if row[0] != seq or merkle.leaf_hash(leaf) != tree.leaf(seq - 1):
        raise ChainBroken(f"event {seq} is not the event the tree holds; run `kb audit verify`")
    head = transparency.sign_head(key, tree_size=len(tree), root_hash=tree.root(), chain_hash=last_hash)
    return receipts.build(leaf=leaf, proof=tree.inclusion_proof(seq - 1), head=head)


def verify_receipt(data: bytes | str | dict[str, Any], trusted_keys: list[str] | tuple[str, ...] = ()) -> ReceiptCheck:
    """Check a receipt offline (no database): its event, its inclusion proof, its signed head and its key.

    Args:
        data: the receipt file's bytes or text (or the parsed object).
        trusted_keys: keys the caller trusts, each 64 hex digits: a raw Ed25519 public key (KB_TRUSTED_KEYS,
            ``--key``) or a fingerprint (the ``key_id`` the organisation publishes).

    Returns:
        ``ReceiptCheck``: ``ok`` and the publication's facts (document, version, body_sha256, …), or the
        problems. ``key_trusted`` is False when the signature verified only under the key the receipt carries.
    """
    return receipts.verify(data, trusted_keys)


def read_checkpoint(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "seq" not in data or "hash" not in data:
        raise ValueError(f"{path} is not a kb audit checkpoint (needs seq and hash)")
    return data


def list_events(
    session: Session,
    *,
    after_seq: int = 0,
    limit: int = 100,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    actor_name: str | None = None,
    before_seq: int | None = None,
    newest_first: bool = False,
) -> list[AuditEvent]:
    """Events after ``after_seq`` (and before ``before_seq``), optionally filtered: the first ``limit`` in
    sequence order, or with ``newest_first`` the last ``limit``, newest first (the admins' page, issue 17)."""
    statement = select(AuditEvent).where(AuditEvent.seq > after_seq)
    if before_seq is not None:
        statement = statement.where(AuditEvent.seq < before_seq)
    if action:
        statement = statement.where(AuditEvent.action == action)
    if object_type:
        statement = statement.where(AuditEvent.object_type == object_type)
    if object_id:
        statement = statement.where(AuditEvent.object_id == object_id)
    if actor_name:
        statement = statement.where(AuditEvent.actor_name == actor_name)
    order = AuditEvent.seq.desc() if newest_first else AuditEvent.seq  # type: ignore[attr-defined]
    return list(session.execute(statement.order_by(order).limit(limit)).scalars())


def latest_seq(session: Session, actions: Sequence[str]) -> int:
    """The sequence number of the newest event of any of ``actions`` (0: none): how a cache of state that
    only those actions change knows it is current (one look-up per action in the ``action`` index)."""
    from sqlalchemy import func

    found = session.execute(select(func.max(AuditEvent.seq)).where(AuditEvent.action.in_(list(actions)))).scalar()  # type: ignore[attr-defined]
    return int(found or 0)


def events_since(session: Session, after_seq: int, limit: int = 1000) -> list[AuditEvent]:
    """Events after ``after_seq``: how derived indexes catch up with the database."""
    return list_events(session, after_seq=after_seq, limit=limit)


def export_jsonl(session: Session, out: Any) -> int:
    """Write every event as one JSON object per line to the text stream ``out``; return the count."""
    written = 0
    for event in chain._events(session):
        fields = event.model_dump(exclude={"mac"})  # the MAC authenticates the event; it is not part of it
        if fields["channel"] is None:  # written before channels were recorded: not in its envelope either
            del fields["channel"]
        out.write(canonical_json(fields) + "\n")
        written += 1
    return written
