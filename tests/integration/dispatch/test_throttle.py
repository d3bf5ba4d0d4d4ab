"""The dispatcher's shared rate limit hook: asked before each batch goes to a provider; when it
refuses (a missing global limit), the claimed batch goes back to planned, nothing is sent."""

from __future__ import annotations

import pytest

from models.enums import ActionStatus, Channel
from services.dispatch import dispatch
from tests.integration.dispatch.support import NOW, plan, statuses


def test_the_throttle_is_asked_for_every_message_before_the_provider_sees_it(container, cases, sandbox):
    plan(container, cases["A-1"], Channel.SMS, count=5)
    asked = []
    channel = sandbox(Channel.SMS)

    def throttle(ch, count):
        asked.append((ch, count, len(channel.attempts)))

    report = dispatch(container, {Channel.SMS: channel}, now=NOW, batch_size=2, throttle=throttle)
    assert report.sent == 5
    assert [(ch, n) for ch, n, _ in asked] == [(Channel.SMS, 2), (Channel.SMS, 2), (Channel.SMS, 1)]
    assert [before for _, _, before in asked] == [0, 2, 4]  # each time before the batch was sent


def test_a_refusing_throttle_sends_nothing_and_leaves_the_batch_planned(container, cases, sandbox):
    plan(container, cases["A-1"], Channel.SMS, count=3)
    channel = sandbox(Channel.SMS)

    def missing_limit(ch, count):
        raise RuntimeError("global concurrency limit relance-sms not found")

    with pytest.raises(RuntimeError):
        dispatch(container, {Channel.SMS: channel}, now=NOW, throttle=missing_limit)
    assert channel.attempts == [] and statuses(container) == {ActionStatus.PLANNED: 3}
