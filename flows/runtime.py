"""What the flows share: the wired container (built once per worker process) and the catalogue."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def container():
    from app.bootstrap import bootstrap

    c = bootstrap()
    from services.schema import current_revision, head_revision, upgrade

    if current_revision(c.engine) != head_revision():
        upgrade(c.engine)
    return c


@lru_cache(maxsize=1)
def catalogue():
    from scenarios.catalogue import load_catalogue

    return load_catalogue()


_channels_override: dict | None = None
# Called with (days done, days in all) by long flows run in-process: the CLI's progress bar.
on_day = None


@lru_cache(maxsize=1)
def _wired_channels():
    from app.channels_wiring import build_channels

    return build_channels(container().settings)


def channels():
    return _channels_override if _channels_override is not None else _wired_channels()


def use_channels(adapters: dict | None) -> None:
    """Run the flows with these adapters (the simulation's dated sandbox), or the wired ones."""
    global _channels_override
    _channels_override = adapters
