"""The postal-sending adapter against a local stub of the provider's REST API."""

from __future__ import annotations

import io

import httpx
import pytest
from pypdf import PdfReader

from channels.base import Failed, OutgoingMessage, Sent
from channels.errors import AmbiguousSendError, FailureCode, PermanentChannelError
from channels.errors import RetryableChannelError
from channels.postal_api import PostalApiChannel, map_transport_error, recipient_fields
from models.enums import Channel
from tests.integration.letters.samples import sample_context
from tests.stubs.postal_stub import PostalStub, Reply

SUBMIT = "POST /sendings/{id}/submit"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stub():
    with PostalStub(token_ttl=600) as server:
        yield server


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def postal(stub, waits, clock, renderer):
    channel = PostalApiChannel(
        stub.url, stub.client_id, stub.client_secret, renderer=renderer, timeout=2.0,
        max_concurrency=1, rate_per_second=1000, sleep=waits.append, clock=clock,
    )
    yield channel
    channel.close()


@pytest.fixture
def pdf_path(first_letter, tmp_path):
    path = tmp_path / "letter.pdf"
    path.write_bytes(first_letter.pdf)
    return path


def letter(action_id: int, pdf_path=None) -> OutgoingMessage:
    context = sample_context()
    if pdf_path is None:
        metadata = {"template": "letter/premiere_relance", "context": context}
    else:
        metadata = {"template": "letter/premiere_relance", "pdf_path": str(pdf_path),
                    "letter_reference": context["letter"]["reference"], "dossier_id": 1042,
                    "address_lines": context["recipient"]["address_lines"]}
    return OutgoingMessage(
        action_id=action_id, idempotency_key=f"1042:particulier:premiere_relance:{action_id}",
        channel=Channel.LETTER, to="", body_text="", metadata=metadata,
    )


def only_sending(stub):
    assert len(stub.sendings) == 1
    return next(iter(stub.sendings.values()))


def test_a_letter_is_created_uploaded_addressed_and_submitted(stub, postal):
    [outcome] = postal.send_batch([letter(1)])
    sending = only_sending(stub)
    assert outcome == Sent(1, sending["id"])
    assert [seen.key for seen in stub.seen] == [
        "POST /oauth/token", "GET /sendings", "POST /sendings", "POST /sendings/{id}/documents",
        "POST /sendings/{id}/recipients", SUBMIT,
    ]
    assert sending["status"] == "PENDING"
    assert sending["name"] == "1042:particulier:premiere_relance:1"
    assert sending["custom_id"] == "L-2025-000311"
    assert len(PdfReader(io.BytesIO(sending["documents"][0]["pdf"])).pages) == 2
    recipient = sending["recipients"][0]
    assert recipient["address_line_1"] == "MADAME CAMILLE DURAND"
    assert recipient["address_line_6"] == "33100 BORDEAUX"
    assert recipient["custom_id"] == "1"


def test_a_rate_limited_call_is_waited_out_and_then_succeeds(stub, postal, waits, pdf_path):
    stub.script(SUBMIT, Reply(429, {"code": "too_many_requests"}, {"Retry-After": "2"}))
    [outcome] = postal.send_batch([letter(1, pdf_path)])
    assert outcome == Sent(1, only_sending(stub)["id"])
    assert waits == [2.0]
    assert [s.status for s in stub.calls(SUBMIT)] == [429, 200]


def test_rate_limiting_that_lasts_gives_a_retryable_failure_with_the_wait(stub, postal, waits, pdf_path):
    stub.script("POST /sendings", *[Reply(429, headers={"Retry-After": "1"})] * 3)
    [outcome] = postal.send_batch([letter(1, pdf_path)])
    assert isinstance(outcome, Failed) and outcome.retryable
    assert outcome.error.code == FailureCode.RATE_LIMITED and outcome.error.retry_after == 1.0
    assert waits == [1.0, 1.0]


def test_a_server_error_before_submit_is_retryable_and_the_retry_posts_one_letter(stub, postal, pdf_path):
    stub.script("POST /sendings/{id}/documents", Reply(500))
    [outcome] = postal.send_batch([letter(1, pdf_path)])
    assert isinstance(outcome, Failed) and outcome.retryable
    assert outcome.error.provider_status == 500
    [again] = postal.send_batch([letter(1, pdf_path)])
    sending = only_sending(stub)  # the draft was resumed, not duplicated
    assert again == Sent(1, sending["id"]) and len(sending["documents"]) == 1
    assert len(stub.submitted()) == 1


def test_a_server_error_at_submit_is_ambiguous_and_reconcile_says_the_draft_was_not_posted(stub, postal, pdf_path):
    stub.script(SUBMIT, Reply(502))
    [outcome] = postal.send_batch([letter(1, pdf_path)])
    assert isinstance(outcome, Failed) and outcome.ambiguous
    settled = postal.reconcile(letter(1, pdf_path))
    assert isinstance(settled, Failed) and settled.retryable
    assert settled.error.code == FailureCode.NOT_ACCEPTED


def test_an_expired_token_is_fetched_again_before_the_next_call(stub, postal, clock, pdf_path):
    postal.send_batch([letter(1, pdf_path)])
    clock.now += 600 - 29  # within the leeway of the 600 s token
    [outcome] = postal.send_batch([letter(2, pdf_path)])
    assert isinstance(outcome, Sent)
    assert stub.tokens_issued == 2
    assert len(stub.calls("POST /oauth/token")) == 2


def test_a_token_the_provider_revoked_is_refreshed_once_and_the_call_retried(stub, postal, pdf_path):
    postal.send_batch([letter(1, pdf_path)])
    stub.revoke_tokens()
    [outcome] = postal.send_batch([letter(2, pdf_path)])
    assert isinstance(outcome, Sent)
    assert stub.tokens_issued == 2
    assert [s.status for s in stub.calls("GET /sendings")] == [200, 401, 200]


def test_wrong_credentials_are_a_permanent_unauthorized_failure(stub, renderer, pdf_path):
    channel = PostalApiChannel(stub.url, stub.client_id, "wrong", renderer=renderer, timeout=2.0)
    [outcome] = channel.send_batch([letter(1, pdf_path)])
    channel.close()
    assert isinstance(outcome, Failed) and outcome.permanent
    assert outcome.error.code == FailureCode.UNAUTHORIZED


def test_an_address_the_provider_refuses_is_a_permanent_failure_of_the_contact_point(stub, postal, pdf_path):
    stub.script("POST /sendings/{id}/recipients", Reply(422, {"code": "invalid_address"}))
    [outcome] = postal.send_batch([letter(1, pdf_path)])
    assert isinstance(outcome, Failed) and outcome.permanent
    assert outcome.error.contact_invalid and outcome.error.provider_code == "invalid_address"
    assert stub.submitted() == []


def test_after_a_dropped_connection_at_submit_reconcile_finds_the_letter_posted(stub, postal, pdf_path):
    stub.script(SUBMIT, Reply(drop=True, accept=True))
    [outcome] = postal.send_batch([letter(1, pdf_path)])
    assert isinstance(outcome, Failed) and outcome.ambiguous
    sending = only_sending(stub)
    assert postal.reconcile(letter(1, pdf_path)) == Sent(1, sending["id"])
    # and sending it again by mistake posts nothing more
    assert postal.send_batch([letter(1, pdf_path)]) == [Sent(1, sending["id"])]
    assert len(stub.calls(SUBMIT)) == 1 and len(stub.submitted()) == 1


def test_reconcile_is_unknown_when_the_provider_cannot_be_reached(renderer, pdf_path):
    with PostalStub() as gone:
        url = gone.url
    channel = PostalApiChannel(url, "relance", "s3cret", renderer=renderer, timeout=1.0)
    assert channel.reconcile(letter(1, pdf_path)) is None
    [outcome] = channel.send_batch([letter(1, pdf_path)])
    channel.close()
    assert isinstance(outcome, Failed) and outcome.retryable
    assert outcome.error.code == FailureCode.CONNECT_FAILED


def _every_transport_error():
    seen, todo = [], [httpx.TransportError]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(set(seen), key=lambda c: c.__name__)


@pytest.mark.parametrize("error_class", _every_transport_error(), ids=lambda c: c.__name__)
def test_every_httpx_transport_error_is_mapped_and_only_submit_can_be_ambiguous(error_class):
    exc = error_class("boom")
    before = map_transport_error(exc, step="document")
    at_submit = map_transport_error(exc, step="submit")
    assert isinstance(before, RetryableChannelError)
    assert isinstance(at_submit, (RetryableChannelError, AmbiguousSendError))
    if issubclass(error_class, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        assert isinstance(at_submit, RetryableChannelError)
    if issubclass(error_class, (httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError)):
        assert isinstance(at_submit, AmbiguousSendError)


def test_the_address_keeps_its_order_with_postcode_and_city_on_line_6():
    fields = recipient_fields(["M JEAN MARTIN", "3 RUE NEUVE", "38000 GRENOBLE"])
    assert fields["address_line_1"] == "M JEAN MARTIN"
    assert fields["address_line_2"] == "3 RUE NEUVE"
    assert fields["address_line_6"] == "38000 GRENOBLE"
    with pytest.raises(PermanentChannelError):
        recipient_fields(["38000 GRENOBLE"])


def test_a_submit_refused_because_a_twin_attempt_already_submitted_counts_as_sent(stub, postal, pdf_path):
    stub.script(SUBMIT, Reply(409, {"code": "sending_already_submitted"}, accept=True))
    [outcome] = postal.send_batch([letter(1, pdf_path)])
    assert outcome == Sent(1, only_sending(stub)["id"])
