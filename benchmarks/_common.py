"""Helpers shared by the benchmarks: a fresh database per run, peak memory, pretty figures."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/relance_bench"


def fresh_database(url: str, workdir: Path) -> str:
    """Return a migrated, empty database for `url` ("sqlite", "postgresql" or a full URL)."""
    from app.database import make_engine
    from services.schema import upgrade

    if url == "sqlite":
        db = workdir / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{db}"
    elif url in ("postgresql", "pg"):
        url = DEFAULT_PG
    if url.startswith("postgresql"):
        parsed = make_url(url)
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{parsed.database}" with (force)'))
            conn.execute(text(f'create database "{parsed.database}"'))
        admin.dispose()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
