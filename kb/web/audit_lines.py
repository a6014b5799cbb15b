"""The audit log as people read it (issue 17): one line per event, saying who did what to which object,
through which channel and when, with a link to the object's page where it has one.

Pure functions over the API's event shape (``AuditEventPublic``); the payload stays whole, shown on
demand. Imports only ``kb.provenance.schemas`` from kb and nothing from the web framework.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

from kb.provenance.schemas import AuditEventPublic

# What an action did, as a verb phrase before its object; an action not named here shows as itself.
VERBS = {
    "document.create": "created", "document.import": "imported", "document.promote": "promoted an answer into",
    "version.edit": "edited a draft of", "version.submit": "submitted for review", "version.approve": "approved",
    "version.reject": "rejected", "version.retire": "retired", "version.publish": "published",
    "report.dismiss": "dismissed a reader's report on",
    "comment.create": "commented", "comment.edit": "edited", "comment.delete": "deleted",
    "question.create": "asked", "question.close": "closed", "answer.create": "answered", "answer.accept": "accepted an answer to",
    "rating.set": "rated", "feedback.create": "gave feedback on", "flag.create": "flagged",
    "user.create": "created the account of", "user.update": "changed the account of", "profile.update": "updated the profile of",
    "space.create": "created the space", "space.update": "changed the space", "space.member.set": "set a role in",
    "space.member.remove": "removed a member from", "token.create": "created an API token", "token.revoke": "revoked an API token",
    "session.create": "signed in", "session.end": "signed out",
    "governance.request": "asked a second person to approve", "governance.approve": "approved", "governance.refuse": "refused",
    "watch.add": "started watching", "watch.remove": "stopped watching", "notify.preference": "chose how to be told,",
    "expert.ask": "asked an expert,",
}

# Where an object's page is: documents, questions, people, governance requests.
PAGES = {
    "document": "/d/{id}", "question": "/questions/{id}", "user": "/people/{id}", "governance_request": "/governance",
}
OBJECT_WORDS = {"governance_request": "request", "document": "document", "question": "question", "user": "",
                "space": "space", "comment": "comment", "answer": "answer", "token": "token"}


@dataclass(frozen=True)
class AuditLine:
    seq: int
    when: str
    """UTC, to the second: 2026-05-01 14:03:22."""
    actor: str
    actor_href: str | None
    verb: str
    action: str
    object_label: str
    object_href: str | None
    channel: str
    payload: str
    """The payload as indented JSON, shown on demand."""


def line(event: AuditEventPublic) -> AuditLine:
    """One readable line for ``event``."""
    kind, ident = event.object_type, event.object_id
    page = PAGES.get(kind)
    href = page.format(id=quote(ident, safe="")) if page else None
    number = event.payload.get("version") or event.payload.get("number")
    if kind == "document" and isinstance(number, int) and event.action.startswith("version."):
        href = f"/d/{quote(ident, safe='')}/v/{number}"
        label = f"{ident} v{number}"
    else:
        word = OBJECT_WORDS.get(kind, kind.replace("_", " "))
        label = f"{word} {ident}".strip() if kind not in ("question", "comment", "answer", "governance_request", "token") \
            else f"{word} #{ident}"
    return AuditLine(
        seq=event.seq, when=event.at[:19].replace("T", " "), actor=event.actor,
        actor_href=None if event.actor in ("system", "") else f"/people/{quote(event.actor, safe='')}",
        verb=VERBS.get(event.action, event.action), action=event.action, object_label=label, object_href=href,
        channel=event.channel or "—", payload=json.dumps(event.payload, indent=2, sort_keys=True, ensure_ascii=False),
    )
