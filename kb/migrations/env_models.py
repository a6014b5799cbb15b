"""Imports every table module so that SQLModel.metadata describes the whole schema."""

import kb.accounts.models  # noqa: F401
import kb.provenance.models  # noqa: F401
import kb.taxonomy.models  # noqa: F401
import kb.documents.models  # noqa: F401
import kb.search.models  # noqa: F401
import kb.social.models  # noqa: F401
import kb.experts.models  # noqa: F401
import kb.notifications.models  # noqa: F401
