"""The channel interface: what the dispatcher hands to an adapter and what it gets back.

An adapter sends a batch and returns one outcome per message, in order. A bad message is data
(`Failed`), never an exception that would lose the outcomes of the rest of the batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from channels.errors import AmbiguousSendError, ChannelError, PermanentChannelError
from channels.errors import RetryableChannelError
from models.enums import Channel

__all__ = [
    "ChannelAdapter",
    "Failed",
    "OutgoingMessage",
    "SendOutcome",
    "Sent",
    "send_concurrently",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered relance, ready for a provider.

    Recipient, texts and metadata are left out of `repr` so that logging a message never leaks
    a phone number, an address or an amount.
    """

    action_id: int
    idempotency_key: str
    channel: Channel
    to: str = field(repr=False)
    body_text: str = field(repr=False)
    subject: str | None = field(default=None, repr=False)
    body_html: str | None = field(default=None, repr=False)
    segments: int | None = None
    reference: str | None = field(default=None, repr=False)  # the dossier's payment reference
    categories: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict, repr=False, hash=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "channel", Channel(self.channel))
        object.__setattr__(self, "categories", tuple(self.categories))
        if self.channel is Channel.EMAIL and not self.subject:
            raise ValueError(f"action {self.action_id}: an email needs a subject")


@dataclass(frozen=True)
class Sent:
    """The provider accepted the message (delivery is reported later, by webhook)."""

    action_id: int
    provider_id: str | None  # None only if the provider accepted without naming the message
    segments: int | None = None


@dataclass(frozen=True)
class Failed:
    action_id: int
    error: ChannelError

    @property
    def retryable(self) -> bool:
        return isinstance(self.error, RetryableChannelError)

    @property
    def permanent(self) -> bool:
        return isinstance(self.error, PermanentChannelError)

    @property
    def ambiguous(self) -> bool:
        return isinstance(self.error, AmbiguousSendError)


SendOutcome = Sent | Failed


@runtime_checkable
class ChannelAdapter(Protocol):
    channel: Channel

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[SendOutcome]:
        """One outcome per message, in the same order; never raises for one bad message."""
        ...

    def reconcile(self, message: OutgoingMessage) -> SendOutcome | None:
        """For an action left in `sending` (crash, ambiguous failure): did the provider accept it?

        `Sent` when the provider has it; `Failed` with a `RetryableChannelError` only when the
        provider can be sure it never took it (safe to send again); None when the answer is
        unknown (the dispatcher then shows the action for review instead of sending it again).
        """
        ...


def send_concurrently(
    messages: Sequence[OutgoingMessage],
    send_one: Callable[[OutgoingMessage], SendOutcome],
    *,
    max_concurrency: int,
) -> list[SendOutcome]:
    """Run `send_one` over a batch on a bounded thread pool, keeping the batch order.

    An action id listed twice in one batch is sent once: the duplicate gets the same outcome.
    `send_one` is expected to turn every provider error into `Failed`; anything else that escapes
    it is reported as ambiguous, since it may have happened after the request left.
    """

    def guarded(message: OutgoingMessage) -> SendOutcome:
        try:
            return send_one(message)
        except ChannelError as exc:
            return Failed(message.action_id, exc)
        except Exception as exc:  # noqa: BLE001 - one message must not sink the batch
            log.error("action %s: unexpected %s while sending", message.action_id, type(exc).__name__)
            error = AmbiguousSendError(f"unexpected {type(exc).__name__} while sending")
            error.__cause__ = exc
            return Failed(message.action_id, error)

    unique: dict[int, OutgoingMessage] = {}
    for message in messages:
        unique.setdefault(message.action_id, message)
    todo = list(unique.values())
    workers = max(1, min(max_concurrency, len(todo)))
    if workers == 1:
        results = [guarded(m) for m in todo]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="channel-send") as pool:
            results = list(pool.map(guarded, todo))
    by_id = {outcome.action_id: outcome for outcome in results}
    return [by_id[m.action_id] for m in messages]
