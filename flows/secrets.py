"""Secrets kept as Prefect Secret blocks instead of environment variables.

With RELANCE_PREFECT_SECRETS=true, each secret setting that the environment leaves unset is read
from the Secret block of the same name in kebab case (RELANCE_TWILIO_AUTH_TOKEN <- block
`relance-twilio-auth-token`) before the container is wired. The environment always wins, so a
machine can override a block; a block that does not exist is simply not used (doctor then reports
the provider as not configured). Values never reach a log.

    prefect block create secret   # or, in Python: Secret(value="...").save("relance-twilio-auth-token")
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

SECRET_SETTINGS = (
    "RELANCE_DATABASE_URL",
    "RELANCE_TWILIO_ACCOUNT_SID",
    "RELANCE_TWILIO_AUTH_TOKEN",
    "RELANCE_SENDGRID_API_KEY",
    "RELANCE_POSTAL_API_CLIENT_ID",
    "RELANCE_POSTAL_API_CLIENT_SECRET",
    "RELANCE_UNSUBSCRIBE_SECRET",
)


def block_name(setting: str) -> str:
    return setting.lower().replace("_", "-")


def load_secret_blocks(environ=os.environ) -> list[str]:
    """Fill unset secret settings from Prefect Secret blocks; the names of those filled."""
    if environ.get("RELANCE_PREFECT_SECRETS", "").lower() not in ("1", "true", "yes"):
        return []
    from prefect.blocks.system import Secret

    filled = []
    for setting in SECRET_SETTINGS:
        if environ.get(setting):
            continue
        try:
            value = Secret.load(block_name(setting)).get()
        except ValueError:  # no such block
            continue
        environ[setting] = str(value)
        filled.append(setting)
    if filled:
        log.info("settings read from Prefect Secret blocks: %s", ", ".join(filled))
    return filled
