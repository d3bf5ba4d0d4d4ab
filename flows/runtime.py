"""What the flows share: the wired container (built once per worker process) and the catalogue."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def container():
    from app.bootstrap import bootstrap
    from flows.secrets import load_secret_blocks

    load_secret_blocks()
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


def provider_throttle():
    """With RELANCE_GLOBAL_RATE_LIMITS, each batch for a provider first takes its slots from the
    Prefect global concurrency limit `relance-<channel>` (a rate limit: slots decay at the
    provider's rate), so N workers together stay within the provider's rate. strict=True: a
    missing limit is an error, never a silent "no limit"."""
    settings = container().settings
    if not settings.global_rate_limits:
        return None
    from prefect.concurrency.sync import rate_limit

    step = settings.global_rate_limit_step

    def throttle(channel, count: int) -> None:
        name = f"relance-{channel.value}"
        while count > 0:
            take = min(step, count)
            rate_limit(name, occupy=take, strict=True)
            count -= take

    return throttle
