"""Accounts: users, roles, spaces and their members, API tokens and web sessions.

``actions`` is the door of every surface (API, web pages, CLI): signing in and out, identification
by token or cookie, users, spaces, members, tokens. Other domains read accounts through ``service``
(``get_user``, ``actor_for``, ``get_space``…) inside their own actions' transactions. Must not import
documents, social, search or experts.
"""
