"""The provider stubs of the tests (Twilio, SendGrid) in a process of their own, for benchmarks:
prints {"twilio": url, "sendgrid": url} on one line, then serves until terminated. Captured
requests are not kept (a benchmark sends tens of thousands)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.stubs.provider_stub import SendGridStub, TwilioStub  # noqa: E402


class _Forgetful(list):
    def append(self, item) -> None:  # keep nothing: memory stays flat over a long run
        pass


def main() -> None:
    stubs = {"twilio": TwilioStub(), "sendgrid": SendGridStub()}
    for stub in stubs.values():
        stub.requests = _Forgetful()
        stub.answers = _Forgetful()
        if hasattr(stub, "accepted"):
            stub.accepted = _Forgetful()
        stub.start()
    print(json.dumps({name: stub.url for name, stub in stubs.items()}), flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    for stub in stubs.values():
        stub.close()


if __name__ == "__main__":
    main()
