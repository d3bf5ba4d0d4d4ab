"""Shared fixtures.

Pure unit tests use none of these. Integration tests take `container`, which runs each test once
on SQLite and once on PostgreSQL (127.0.0.1:5432; `make test` starts the server and creates the
database). Under pytest-xdist each worker gets its own PostgreSQL database.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.bootstrap import Container, bootstrap
from app.settings import Settings
import models.entities  # noqa: F401 - every table on the metadata
from models.base import Base

PG_URL = os.environ.get(
    "RELANCE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/relance_test"
)
BACKENDS = ["sqlite", "postgresql"]


def _ensure_pg_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(
            text("select 1 from pg_database where datname = :n"), {"n": parsed.database}
        )
        if not exists:
            conn.execute(text(f'create database "{parsed.database}"'))
    admin.dispose()


def _pg_url_for(worker_id: str) -> str:
    if worker_id in ("master", ""):
        return PG_URL
    parsed = make_url(PG_URL)
    return parsed.set(database=f"{parsed.database}_{worker_id}").render_as_string(
        hide_password=False
    )


def _reset_schema(url: str) -> None:
    """Drop everything, then build the schema through the migrations, as production does."""
    from app.database import make_engine
    from services.schema import upgrade

    engine = make_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("drop schema public cascade"))
            conn.execute(text("create schema public"))
    upgrade(engine)
    engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory, worker_id) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'relance.db'}"
    else:
        url = _pg_url_for(worker_id)
        _ensure_pg_database(url)
    _reset_schema(url)
    return url


def _truncate_all(container: Container) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with container.engine.begin() as conn:
        if container.engine.dialect.name == "postgresql":
            conn.execute(text(f"truncate {', '.join(tables)} restart identity cascade"))
        else:
            for name in tables:
                conn.execute(text(f"delete from {name}"))
            conn.execute(text("delete from sqlite_sequence")) if conn.scalar(
                text("select 1 from sqlite_master where name='sqlite_sequence'")
            ) else None


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return Settings(database_url=database_url, outbox_dir=tmp_path / "outbox")


@pytest.fixture
def container(settings) -> Container:
    c = bootstrap(settings)
    _truncate_all(c)
    yield c
    c.engine.dispose()


@pytest.fixture
def backend(database_url) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
