"""Every way a vendor SDK can fail is translated into the channel error hierarchy.

The adapter tests drive the same paths through real HTTP against local stubs; these tests cover
the exceptions a local stub cannot produce (connect timeouts, RFC 9457 answers, each SDK class).
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error

import pytest
import requests
from python_http_client import exceptions as sg
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from channels import sendgrid_email, twilio_sms
from channels.errors import AmbiguousSendError, ChannelError, PermanentChannelError
from channels.errors import RetryableChannelError

R, P, A = RetryableChannelError, PermanentChannelError, AmbiguousSendError


def test_an_ambiguous_failure_is_neither_retryable_nor_permanent():
    assert issubclass(A, ChannelError)
    assert not issubclass(A, R) and not issubclass(A, P)
    assert not issubclass(R, P) and not issubclass(P, R)


# -- Twilio answers --------------------------------------------------------------------------------

TWILIO_ANSWERS = [
    # status, code, error class, failure code, contact invalid
    (429, 20429, R, "rate_limited", None),
    (400, 20429, R, "rate_limited", None),
    (500, 20500, R, "server_error", None),
    (502, 502, R, "server_error", None),
    (503, 20503, R, "server_error", None),
    (504, 504, A, "no_response", None),
    (400, 21211, P, "invalid_number", True),
    (400, 21614, P, "not_mobile", True),
    (400, 21610, P, "opted_out", False),
    (400, 21408, P, "region_not_enabled", False),
    (401, 20003, P, "unauthorized", False),
    (403, 20008, P, "forbidden", False),
    (404, 20404, P, "rejected", False),
    (400, 21602, P, "rejected", False),
    (400, None, P, "rejected", False),
]


@pytest.mark.parametrize(("status", "code", "kind", "failure", "invalid"), TWILIO_ANSWERS)
def test_every_twilio_error_answer_is_mapped(status, code, kind, failure, invalid):
    for exc in (
        TwilioRestException(status, "/Messages.json", "The 'To' number +33612345678 is not valid", code, "POST"),
        TwilioServiceException("https://www.twilio.com/docs/errors", "Problem", status, code or status),
    ):
        error = twilio_sms.map_twilio_error(exc)
        assert type(error) is kind
        assert error.code == failure
        assert error.provider_status == status
        if invalid is not None:
            assert error.contact_invalid is invalid
        assert "+33612345678" not in str(error)  # the provider's text may quote the number


def test_twilio_transport_failures_split_on_whether_the_request_left():
    refused = requests.ConnectionError(
        MaxRetryError(None, "/Messages.json", NewConnectionError(None, "Connection refused"))
    )
    dropped = requests.ConnectionError(ProtocolError("Connection aborted.", http.client.RemoteDisconnected()))
    cases = [
        (requests.ConnectTimeout(), R, "timeout"),
        (refused, R, "connect_failed"),
        (requests.ReadTimeout(), A, "timeout"),
        (dropped, A, "no_response"),
        (requests.exceptions.ChunkedEncodingError(), A, "no_response"),
        (requests.exceptions.SSLError(), A, "no_response"),
        (requests.RequestException(), A, "no_response"),
    ]
    for exc, kind, failure in cases:
        error = twilio_sms.map_transport_error(exc)
        assert (type(error), error.code) == (kind, failure), exc


# -- SendGrid answers ------------------------------------------------------------------------------


def _sg(cls, status: int, errors=None):
    body = json.dumps({"errors": errors or [{"message": "bad", "field": None}]}).encode()
    return cls(status, "reason", body, {})


SENDGRID_ANSWERS = [
    (_sg(sg.BadRequestsError, 400, [{"message": "Does not contain a valid address.",
                                     "field": "personalizations.0.to.0.email"}]), P, "invalid_email", True),
    (_sg(sg.BadRequestsError, 400, [{"message": "The subject is required.", "field": "subject"}]),
     P, "rejected", False),
    (sg.BadRequestsError(400, "reason", b"not json", {}), P, "rejected", False),
    (_sg(sg.UnauthorizedError, 401), P, "unauthorized", False),
    (_sg(sg.ForbiddenError, 403), P, "forbidden", False),
    (_sg(sg.NotFoundError, 404), P, "rejected", False),
    (_sg(sg.MethodNotAllowedError, 405), P, "rejected", False),
    (_sg(sg.PayloadTooLargeError, 413), P, "rejected", False),
    (_sg(sg.UnsupportedMediaTypeError, 415), P, "rejected", False),
    (_sg(sg.TooManyRequestsError, 429), R, "rate_limited", None),
    (_sg(sg.InternalServerError, 500), R, "server_error", None),
    (_sg(sg.HTTPError, 502), R, "server_error", None),
    (_sg(sg.ServiceUnavailableError, 503), R, "server_error", None),
    (_sg(sg.GatewayTimeoutError, 504), A, "no_response", None),
]


@pytest.mark.parametrize(("exc", "kind", "failure", "invalid"), SENDGRID_ANSWERS)
def test_every_sendgrid_error_answer_is_mapped(exc, kind, failure, invalid):
    error = sendgrid_email.map_sendgrid_error(exc)
    assert (type(error), error.code) == (kind, failure)
    if invalid is not None:
        assert error.contact_invalid is invalid
    assert "valid address" not in str(error)


def test_every_http_error_class_of_the_sendgrid_sdk_is_covered():
    covered = {type(exc) for exc, *_ in SENDGRID_ANSWERS}
    assert set(sg.err_dict.values()) | {sg.HTTPError} <= covered


def test_sendgrid_transport_failures_split_on_whether_the_request_left():
    cases = [
        (urllib.error.URLError(ConnectionRefusedError(111, "refused")), R, "connect_failed"),
        (urllib.error.URLError(socket.timeout("timed out")), R, "timeout"),
        (urllib.error.URLError(socket.gaierror("no such host")), R, "connect_failed"),
        (TimeoutError("timed out"), A, "timeout"),
        (http.client.RemoteDisconnected("closed"), A, "no_response"),
        (ConnectionResetError(104, "reset"), A, "no_response"),
        (http.client.IncompleteRead(b""), A, "no_response"),
        (http.client.BadStatusLine("garbage"), A, "no_response"),
    ]
    for exc, kind, failure in cases:
        error = sendgrid_email.map_transport_error(exc)
        assert (type(error), error.code) == (kind, failure), exc
