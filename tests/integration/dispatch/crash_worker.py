"""A dispatcher to be killed: run by test_crash.py in its own process, SIGKILLed mid-way.

    python -m tests.integration.dispatch.crash_worker <database_url> <outbox_dir> <now ISO> \
        [--delay-ms 5] [--batch-size 50]

Sends every planned SMS through a sandbox slowed down by `delay-ms` per message, so that the
parent can kill it while a batch is half written.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime

from app.bootstrap import bootstrap
from app.settings import Settings
from channels.sandbox import SandboxChannel
from models.enums import Channel
from services.dispatch import dispatch


class SlowSandbox(SandboxChannel):
    def __init__(self, *args, delay: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.delay = delay

    def _send_one(self, message, *args):
        time.sleep(self.delay)
        return super()._send_one(message, *args)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("outbox_dir")
    parser.add_argument("now")
    parser.add_argument("--delay-ms", type=float, default=5.0)
    parser.add_argument("--batch-size", type=int, default=50)
    args = parser.parse_args(argv)
    now = datetime.fromisoformat(args.now)
    container = bootstrap(Settings(database_url=args.database_url, outbox_dir=args.outbox_dir))
    day = now.date()
    sms = SlowSandbox(Channel.SMS, args.outbox_dir, today=lambda: day, delay=args.delay_ms / 1000)
    print("ready", flush=True)
    report = dispatch(container, {Channel.SMS: sms}, now=now, channel=Channel.SMS, batch_size=args.batch_size)
    print(f"done {report.sent}", flush=True)


if __name__ == "__main__":
    main()
