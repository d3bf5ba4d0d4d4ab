"""Console accounts: users, their creditor assignments, login failures (rate limiting that holds
across processes) and the audit log of every write made through the console or the user CLI."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import PK, Base


class Role(StrEnum):
    AGENT = "agent"
    MANAGER = "manager"
    ADMIN = "admin"


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[PK]
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role]
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class UserCreditor(Base):
    """An agent works only the dossiers of the creditors assigned to them (when any is)."""

    __tablename__ = "user_creditor"
    __table_args__ = (UniqueConstraint("user_id", "creditor_id"),)

    id: Mapped[PK]
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditor.id"))


class LoginFailure(Base):
    """One failed login; counted per user name and per address over a sliding window."""

    __tablename__ = "login_failure"
    __table_args__ = (
        Index("ix_login_failure_name", "name", "at"),
        Index("ix_login_failure_ip", "ip", "at"),
    )

    id: Mapped[PK]
    name: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class AuditEntry(Base):
    """Who did what, when, on which ids. Never personal data of debtors."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[PK]
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(64))  # e.g. "dossier:42", "campaign:3"
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
