"""kb.search: hybrid search of curated knowledge for employees and citizens, the query log and its insights.

Inside, from the top: ``api`` (HTTP routes) > ``actions`` (the use cases every surface calls: the
permission rows, the query log) > ``service`` (retrieval, fusion, the database re-check) and
``insights`` (query-log analytics, the insights page's figures) > ``schemas`` > ``models``; beside
them the indexes (``indexer``, ``keyword_*``, ``vector``) that follow the database through events.
Reads documents only through what ``kb.documents`` re-exports, and the community through
``kb.social``; must not import ``kb.experts``, the web UI or the CLI.
"""
