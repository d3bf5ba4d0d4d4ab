"""The one place that wires settings, the database and the channels together.

Entry points (CLI, flows, web) call `bootstrap()`; tests call it with their own settings and fakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.database import make_engine, make_session_factory
from app.settings import Settings, load_settings
from services.unit_of_work import UnitOfWork


@dataclass
class Container:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    overrides: dict[str, Any] = field(default_factory=dict)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    @cached_property
    def rates(self):
        from models.rates import load_rate_tables

        return load_rate_tables(self.settings.rates_dir)


def bootstrap(settings: Settings | None = None, **overrides: Any) -> Container:
    settings = settings or load_settings()
    engine = make_engine(settings.database_url)
    return Container(settings, engine, make_session_factory(engine), overrides)
