from __future__ import annotations

import pytest

from channels.sandbox import SandboxChannel
from models.enums import Channel
from tests.integration.dispatch.support import NOW, import_cases


@pytest.fixture
def cases(container, tmp_path):
    return import_cases(container, tmp_path)


@pytest.fixture
def outbox(settings):
    return settings.outbox_dir


@pytest.fixture
def sandbox(outbox):
    """A sandbox per channel, writing under the test's outbox/, with the test's clock."""

    def make(channel: Channel, **faults) -> SandboxChannel:
        return SandboxChannel(channel, outbox, today=lambda: NOW.date(), **faults)

    return make
