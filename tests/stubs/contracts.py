"""Validate the requests captured by the stubs against the providers' official OpenAPI contracts.

The contracts live in `../shared/contracts/` next to the repository (or `$RELANCE_CONTRACTS_DIR`).
Each is parsed once per test session: the Twilio document alone takes about 3 s. It is loaded with
`json.load` + `OpenAPI.from_dict`, since the YAML loader behind `from_file_path` chokes on a `\\u`
escape in it (see the contracts' README).

A captured request is replayed against the contract's own server URL (https://api.twilio.com,
https://api.sendgrid.com): the contracts know nothing of 127.0.0.1, and the path, query, headers
and body are what is checked.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import parse_qs

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from tests.stubs.provider_stub import CapturedRequest, Reply

__all__ = ["Contract", "ContractViolation", "contracts_dir", "sendgrid_contract", "twilio_contract"]

REPO_ROOT = Path(__file__).resolve().parents[2]


def contracts_dir() -> Path:
    configured = os.environ.get("RELANCE_CONTRACTS_DIR")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "contracts"


class ContractViolation(AssertionError):
    pass


class _OpenAPIRequest:
    """openapi-core's Request protocol over a captured request."""

    def __init__(self, captured: CapturedRequest, host_url: str) -> None:
        self.host_url = host_url
        self.path = captured.path
        self.method = captured.method.lower()
        self.body = captured.body or None
        self.content_type = (captured.header("Content-Type") or "application/json").lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(
                [(k, v) for k, values in parse_qs(captured.query, keep_blank_values=True).items() for v in values]
            ),
            header=Headers(list(captured.headers.items())),
            cookie=ImmutableMultiDict(),
        )


class _OpenAPIResponse:
    def __init__(self, reply: Reply) -> None:
        self.status_code = reply.status
        self.data = reply.payload()
        self.content_type = "application/json" if reply.json is not None else reply.headers.get(
            "Content-Type", ""
        )
        self.headers = Headers(list(reply.headers.items()))


class Contract:
    def __init__(self, name: str, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(
                f"{name} contract not found at {path}: put the providers' contracts in "
                f"../shared/contracts or point RELANCE_CONTRACTS_DIR at them"
            )
        with path.open(encoding="utf-8") as handle:
            document = json.load(handle)
        self.name = name
        self.server_url = document["servers"][0]["url"].rstrip("/")
        self.spec = OpenAPI.from_dict(document)

    def validate(self, captured: CapturedRequest) -> None:
        try:
            self.spec.validate_request(_OpenAPIRequest(captured, self.server_url))
        except Exception as exc:  # openapi-core raises a family of errors; report them all alike
            details = f"{exc}" + (f" ({exc.__cause__})" if exc.__cause__ else "")
            raise ContractViolation(
                f"{captured.method} {captured.path} breaks the {self.name} contract: {details}"
            ) from exc

    def validate_answer(self, captured: CapturedRequest, reply: Reply) -> None:
        """Check a stub's answer too, so the stub cannot drift from what the provider returns."""
        try:
            self.spec.validate_response(_OpenAPIRequest(captured, self.server_url), _OpenAPIResponse(reply))
        except Exception as exc:
            details = f"{exc}" + (f" ({exc.__cause__})" if exc.__cause__ else "")
            raise ContractViolation(
                f"the stub's {reply.status} to {captured.method} {captured.path} breaks the "
                f"{self.name} contract: {details}"
            ) from exc

    def assert_all_valid(self, requests: Iterable[CapturedRequest]) -> int:
        """Validate every request; returns how many there were (at least one is expected)."""
        count = 0
        for captured in requests:
            self.validate(captured)
            count += 1
        if count == 0:
            raise ContractViolation(f"no request reached the {self.name} stub")
        return count


@functools.cache
def twilio_contract() -> Contract:
    return Contract("Twilio API v2010", contracts_dir() / "twilio_api_v2010.json")


@functools.cache
def sendgrid_contract() -> Contract:
    return Contract("SendGrid Mail v3", contracts_dir() / "tsg_mail_v3.json")
