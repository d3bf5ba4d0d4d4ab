"""A record of each portfolio import: what file, what came of it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import PK, Base


class ImportRun(Base):
    __tablename__ = "import_run"

    id: Mapped[PK]
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditor.id"))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    rows: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    rejected_path: Mapped[str | None] = mapped_column(String(500))
