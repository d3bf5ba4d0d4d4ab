"""Fixtures for the adapter tests: a fresh provider stub per test, each contract parsed once."""

from __future__ import annotations

import pytest

from tests.stubs.contracts import Contract, sendgrid_contract, twilio_contract
from tests.stubs.provider_stub import SendGridStub, TwilioStub


class Sleeps(list):
    """Stands in for time.sleep: records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)

    def longer_than(self, seconds: float) -> list[float]:
        return [s for s in self if s > seconds]


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def twilio_stub():
    with TwilioStub() as stub:
        yield stub


@pytest.fixture
def sendgrid_stub():
    with SendGridStub() as stub:
        yield stub


@pytest.fixture(scope="session")
def twilio_api() -> Contract:
    return twilio_contract()


@pytest.fixture(scope="session")
def sendgrid_api() -> Contract:
    return sendgrid_contract()
