"""Wire shape of "my work": one person's open work in each domain, as each domain's public schemas."""

from __future__ import annotations

from pydantic import BaseModel, Field

from kb.documents.schemas import MyDocuments
from kb.notifications.schemas import WatchesPublic
from kb.search.schemas import SituationDemand
from kb.social.schemas import MyQuestions


class MyWork(BaseModel):
    """What waits for me: my curated work, my questions and answers, and what I watch."""

    documents: MyDocuments = Field(description="Drafts, versions in review, rejected ones with the reason, promoted answers waiting")
    questions: MyQuestions = Field(description="Questions I asked and questions I answered")
    watching: WatchesPublic = Field(description="The documents, spaces, questions and tags I watch")
    content_gaps: list[SituationDemand] = Field(default_factory=list, description="Owners and admins: situations citizens "
                                                "pick on \"what applies to me\" with no approved public page in their "
                                                "language (last 30 days, taxonomy-wide); empty for everyone else")
