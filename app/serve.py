"""`relance serve`: the web application (console, webhooks, unsubscribe page) under uvicorn.

Run it behind the TLS proxy whose address is RELANCE_PUBLIC_BASE_URL: provider signatures are
checked against that public address, not the local one. Set RELANCE_SESSION_SECRET (the console's session key, the
same for every server process); RELANCE_COOKIE_SECURE=false only to try the console on plain
local http.
"""

from __future__ import annotations

import uvicorn

from app.bootstrap import bootstrap
from app.web.app import create_app


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    container = bootstrap()
    try:
        # access_log off: query strings carry unsubscribe tokens, and logs carry ids only.
        uvicorn.run(create_app(container), host=host, port=port, access_log=False, proxy_headers=True)
    finally:
        container.engine.dispose()
