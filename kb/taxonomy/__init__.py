"""The taxonomy (issue 20): concept schemes with labels in several languages, read by documents and search.

Documents and search read it only through what is re-exported here.
"""

from kb.taxonomy.models import ConceptField, ConceptStatus
from kb.taxonomy.schemas import ConceptRefPublic
from kb.taxonomy.service import Vocabulary, set_uses, stored_ids, vocabulary

__all__ = ["ConceptField", "ConceptRefPublic", "ConceptStatus", "Vocabulary", "set_uses", "stored_ids", "vocabulary"]
