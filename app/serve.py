"""`relance serve`: the web application (webhooks, unsubscribe page) under uvicorn.

Run it behind the TLS proxy whose address is RELANCE_PUBLIC_BASE_URL: provider signatures are
checked against that public address, not the local one.
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
