"""Accounts: users, roles, spaces and their members, API tokens and web sessions.

Public surface for other packages: the service functions re-exported here. Must not import
documents, social, search or experts.
"""
