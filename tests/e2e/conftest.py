"""End-to-end fixtures: one Prefect test harness for the whole session (about 17 s to start),
and a fresh SQLite database wired through the environment, as the CLI and the flows see it."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def prefect_harness():
    import os

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def relance_env(tmp_path, monkeypatch):
    """RELANCE_* settings for a fresh database and outbox; the flows' cached wiring is reset."""
    from flows import runtime

    monkeypatch.setenv("RELANCE_DATABASE_URL", f"sqlite:///{tmp_path / 'relance.db'}")
    monkeypatch.setenv("RELANCE_OUTBOX_DIR", str(tmp_path / "outbox"))
    for cached in (runtime.container, runtime._wired_channels):
        cached.cache_clear()
    yield tmp_path
    runtime.use_channels(None)
    for cached in (runtime.container, runtime._wired_channels):
        cached.cache_clear()
