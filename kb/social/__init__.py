"""The social layer: comments, ratings, feedback, flags, questions and answers, votes, promotion,
moderation and reputation, stored apart from curated knowledge and labelled community content.

Inside, from the top: ``api`` (HTTP routes) > ``actions`` (the use cases every surface calls) >
``service`` (per-object rules, audit events) > ``schemas`` > ``models`` (import-linter keeps that
order). Uses curated documents only through what ``kb.documents`` re-exports; must not import
search, experts or the web UI.
"""
