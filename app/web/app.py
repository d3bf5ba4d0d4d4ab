"""The web application: the console (agents and managers), provider webhooks, the unsubscribe
page and a health check.

    create_app(container, *, clock=None) -> FastAPI

The container (app/bootstrap.py) is the only wiring; `clock` returns an aware datetime and
defaults to the current UTC time (tests pass their own).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from app.bootstrap import Container
from app.web.voice import voice_router
from app.web.console import install as install_console
from app.web.webhooks import webhook_router


def create_app(container: Container, *, clock: Callable[[], datetime] | None = None) -> FastAPI:
    app = FastAPI(title="Relance", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.container = container
    app.state.clock = clock
    app.include_router(webhook_router(container.settings.channels))
    app.include_router(voice_router())
    install_console(app, container, clock)
    return app
