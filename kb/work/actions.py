"""The use case "my work": one read over the domains' own actions, gated by ``me.work``.

Must not import the web framework or an ``api`` module; reads each domain through its actions only.
"""

from __future__ import annotations

from sqlmodel import Session

from kb.actors import Actor
from kb.documents import actions as documents
from kb.notifications import actions as notifications
from kb.permissions import authorize, may
from kb.search import actions as search
from kb.social import actions as social
from kb.work.schemas import MyWork


def my_work(session: Session, actor: Actor) -> MyWork:
    """The actor's drafts, versions in review, rejected versions (who, when, why, and the draft to edit),
    promoted answers waiting for approval, the questions they asked or answered, and what they watch; for
    owners and admins also the content gaps (issue 20): situations citizens pick with no approved public
    page in their language, taxonomy-wide (search's ``insights.read``).

    Raises:
        KbError NOT_AUTHENTICATED: nobody is signed in.
    """
    authorize(actor, "me.work")
    gaps = search.situation_insights(session, actor).gaps if may(actor, "insights.read") else []
    return MyWork(documents=documents.my_documents(session, actor), questions=social.my_questions(session, actor),
                  watching=notifications.watches(session, actor), content_gaps=gaps)
