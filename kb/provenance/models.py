"""Audit log tables. Only ``kb.provenance`` may import this module (import-linter contract)."""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

GENESIS_HASH = "0" * 64


class AuditEvent(SQLModel, table=True):
    """One append-only, hash-chained record of a state change."""

    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("prev_hash", name="uq_audit_event_prev_hash"),)

    seq: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    at: str = Field(sa_column=Column(String(32), nullable=False, index=True))
    actor_id: int | None = Field(default=None, index=True)
    actor_name: str = Field(sa_column=Column(String(200), nullable=False))
    channel: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    """api, web, cli or system; None only for events written before migration 0013."""
    action: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    object_type: str = Field(sa_column=Column(String(64), nullable=False))
    object_id: str = Field(sa_column=Column(String(200), nullable=False))
    payload: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(sa_column=Column(String(64), nullable=False))
    hash: str = Field(sa_column=Column(String(64), nullable=False))
    mac: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    """HMAC-SHA256 of ``hash`` under the event key (a file outside the database): kb wrote this event.
    Not part of the envelope, so leaves and heads do not depend on it (migration 0015)."""


class AuditHead(SQLModel, table=True):
    """The chain head: one row, locked by every append so concurrent writers cannot fork the chain."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(default=GENESIS_HASH, sa_column=Column(String(64), nullable=False))
