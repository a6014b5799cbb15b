"""The rules of a second review, and what kb records when a version is published (issue 16).

``kb.documents.service.approval_refusal`` puts them together with the owner and state checks; every
surface asks it, so an approval is refused, or not offered, for the same reason everywhere:

- **four eyes**: the author or a credited contributor does not approve a version submitted under four
  eyes, nor one in a space that requires them now;
- **two people**: nor does an approver who chose the password of one of its writers, or whose password
  a writer chose, directly or through accounts whose passwords they chose (``password_set_by``): that
  would be one person with two accounts;
- a version approved without a second person says so (``second_review`` is False) on every card.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlmodel import Session

from kb import provenance
from kb.accounts import service as accounts
from kb.accounts.models import Space
from kb.actors import SYSTEM, Actor
from kb.documents.commitments import commitment, provenance_sha256
from kb.documents.models import Document, Version
from kb.errors import ErrorCode, KbError


def wrote(user_id: int | None, version: Version) -> bool:
    """Whether ``user_id`` is a writer of ``version``: its author or a credited contributor."""
    return user_id == version.author_id or user_id in json.loads(version.contributor_ids)


def second_review(version: Version) -> bool | None:
    """Whether an approved version had a second person review it (issue 16); None until it is approved.

    False when its approver is its author or a credited contributor — possible only where four eyes
    was off when it was submitted: it says so on every card, public ones included, and in the PROV
    export. A version another owner approved was reviewed by a second person, whatever the space
    required at the time: the card states what happened.
    """
    if version.approver_id is None:
        return None
    return not wrote(version.approver_id, version)


def four_eyes_refusal(actor: Actor, version: Version, space: Space, slug: str) -> KbError | None:
    """Four eyes: the author or a credited contributor approves only where four eyes was off at
    submission and is off now (the card then says "no second review"). KbError FOUR_EYES, else None."""
    if wrote(actor.id, version):
        if version.four_eyes:
            # The rule in force when the version was submitted holds, whatever the space says now: switching
            # four eyes off after submitting must not open a way round it (issue 16, point 6).
            return KbError(ErrorCode.FOUR_EYES, (
                f"Version {version.number} of {slug!r} was submitted under four eyes: a second person, another owner "
                "of the space, must approve it; you wrote it (switching four eyes off later does not change that)"),
                details={"rule": "four_eyes", "submitted_under_four_eyes": True})
        if space.four_eyes:
            return KbError(ErrorCode.FOUR_EYES, "You wrote this version; another owner of the space must approve it (four eyes)",
                           details={"rule": "four_eyes", "submitted_under_four_eyes": False})
    return None


def two_people_refusal(session: Session, approver: Actor, version: Version, slug: str, *,
                       decision: str = "approve it") -> KbError | None:
    """A second review is by a second *person*: refuse an approver who chose the password of one of the
    version's writers (author, credited contributors, submitter), or whose password a writer chose,
    directly or through accounts whose passwords they chose (``provenance.chain_between``).

    Whoever creates an account with a password can sign in as it: an admin who also owns a space could
    otherwise create "carl2", make him a contributor (both immediate), write as him and approve as
    himself, and the card would show a second review that never happened (issue 16); or have a puppet
    made admin with a colleague's good-faith approval, create the next puppet as that one, and write as
    it. The rule holds whatever the space's four eyes say, since a card states "second review" whenever
    approver and author differ. The refusal is KbError FOUR_EYES (``details.rule: "password_set_by"``), saying
    that another owner must make the ``decision`` (a reader's report about the version is decided alike).
    """
    writers = {version.author_id, version.submitted_by_id, *json.loads(version.contributor_ids)} - {None, approver.id}
    if not writers:
        return None
    people = accounts.users_by_id(session, [approver.id, *writers])
    chains = provenance.password_choosers(session, [user.username for user in people.values()])  # one walk for all
    for writer_id in sorted(writers):  # type: ignore[type-var]
        writer = people.get(writer_id)
        if writer is None:
            continue
        chain = provenance.chain_between(chains, approver.username, writer.username)
        if chain is not None:
            return KbError(ErrorCode.FOUR_EYES, (
                f"{provenance.chosen_passwords(chain)}, so {approver.username} is not a second person for "
                f"{writer.username}'s version {version.number} of {slug!r}: another owner must {decision}"),
                details={"rule": "password_set_by", "set_by": chain[0], "account": chain[-1], "chain": chain})
    return None


def record_publication(session: Session, *, document: Document, version: Version, space: Space,
                       approval: provenance.AuditEvent) -> provenance.AuditEvent:
    """Record ``version.publish``: kb attests, in the approval's transaction, that a public version is served.

    Its envelope is what a citizen's receipt carries (docs/transparency.md): it names no person
    (actor ``system``) and commits to the body's and the provenance record's SHA-256 and points at the
    approval event, which names the approver for employees, by its sequence number (the log's chain
    binds the two events; recorded right after the approval, its prev_hash is the approval's hash).
    No title: the slug names the document and body_sha256 binds the content (a receipt stays small).
    """
    return provenance.record(session, SYSTEM, "version.publish", ("document", document.slug), {
        "version": version.number, "space": space.slug,
        "body_sha256": commitment(version)["body_sha256"], "provenance_sha256": provenance_sha256(version),
        "second_review": second_review(version), "valid_from": _iso(version.valid_from),
        "valid_until": _iso(version.valid_until), "approval_seq": approval.seq,
    })


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
