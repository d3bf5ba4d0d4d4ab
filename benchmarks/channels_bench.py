"""Channels: SMS and emails through the dispatcher, with the real SDKs, against local stubs.

    .venv/bin/python benchmarks/channels_bench.py [--messages 5000] [--database sqlite|postgresql|URL]
        [--sms-rate 1000] [--sms-concurrency 16] [--email-rate 1000] [--email-concurrency 16]

What is timed is `services.dispatch.dispatch` for one channel, end to end: claim the planned
actions (`sending`, committed), render each text from its template and the dossier's figures,
send through the adapter (Twilio's or SendGrid's SDK, threads up to the configured concurrency,
within the configured rate limit), record every outcome (`sent`, provider id, segments, cost,
ACTION_SENT event). The provider stubs (tests/stubs) run in a second process on loopback, so
the stubs' own CPU is not the dispatcher's. Targets (issue 4): 500 SMS/s and 500 emails/s.

The data: `benchmarks/_relance_data.generate` (dossiers, debtors, contact points), then one
planned SMS and one planned email per dossier that has a mobile / an email.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import fresh_database, peak_rss_mib  # noqa: E402

TARGET_PER_SECOND = 500
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Paris
ACCOUNT = "AC" + "0123456789abcdef" * 2


def start_stubs() -> tuple[subprocess.Popen, dict[str, str]]:
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks._stub_server"], stdout=subprocess.PIPE,
                            text=True, cwd=Path(__file__).resolve().parent.parent)
    urls = json.loads(proc.stdout.readline())
    return proc, urls


def plan_messages(engine, n: int) -> dict[str, int]:
    """One planned SMS per dossier whose debtor has a mobile, one email per dossier with an email."""
    from sqlalchemy import func, insert, select

    from models.dossiers import Dossier
    from models.enums import Channel, ContactKind, LineType
    from models.outbox import Action
    from models.parties import ContactPoint

    counts = {}
    with engine.begin() as conn:
        for channel, kind, template in ((Channel.SMS, ContactKind.PHONE, "sms/relance_solde"),
                                        (Channel.EMAIL, ContactKind.EMAIL, "email/relance_particulier")):
            query = (select(Dossier.id, Dossier.debtor_id, func.min(ContactPoint.id))
                     .join(ContactPoint, ContactPoint.debtor_id == Dossier.debtor_id)
                     .where(ContactPoint.kind == kind, ContactPoint.valid.is_(True))
                     .group_by(Dossier.id, Dossier.debtor_id).order_by(Dossier.id).limit(n))
            if channel is Channel.SMS:
                query = query.where(ContactPoint.line_type == LineType.MOBILE, ContactPoint.opt_out_sms_at.is_(None))
            rows = [
                {"idempotency_key": f"bench:{channel.value}:{dossier_id}", "dossier_id": dossier_id,
                 "debtor_id": debtor_id, "scenario": "bench", "step": channel.value, "channel": channel,
                 "template": template, "contact_point_id": cp_id, "not_before": NOW, "planned_at": NOW,
                 "updated_at": NOW}
                for dossier_id, debtor_id, cp_id in conn.execute(query)
            ]
            conn.execute(insert(Action), rows)
            counts[channel.value] = len(rows)
    return counts


def run_channel(container, channel, adapter) -> dict:
    from services.dispatch import dispatch

    started = time.perf_counter()
    report = dispatch(container, {channel: adapter}, now=NOW, channel=channel, batch_size=500)
    seconds = time.perf_counter() - started
    return {"sent": report.sent, "failed": report.failed, "retried": report.retried,
            "ambiguous": report.ambiguous, "seconds": round(seconds, 2),
            "per_second": round(report.sent / seconds, 1) if seconds else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000, help="SMS and emails each")
    parser.add_argument("--database", default="sqlite")
    parser.add_argument("--sms-rate", type=float, default=1000.0, help="Twilio rate limit (messages/s)")
    parser.add_argument("--sms-concurrency", type=int, default=16)
    parser.add_argument("--email-rate", type=float, default=1000.0, help="SendGrid rate limit (requests/s)")
    parser.add_argument("--email-concurrency", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from app.bootstrap import bootstrap
    from app.settings import Settings
    from benchmarks._relance_data import generate
    from channels.sendgrid_email import SendGridEmailChannel
    from channels.twilio_sms import TwilioSmsChannel
    from models.enums import Channel

    workdir = Path(tempfile.mkdtemp(prefix="channels-bench-"))
    url = fresh_database(args.database, workdir)
    container = bootstrap(Settings(database_url=url, outbox_dir=str(workdir / "outbox")))
    dossiers = int(args.messages / 0.8) + 20  # 85 % have an email, 99 % a mobile open to SMS
    t = time.perf_counter()
    generate(container.engine, dossiers, now=NOW, log=lambda *a: None)
    planned = plan_messages(container.engine, args.messages)
    setup = time.perf_counter() - t

    proc, urls = start_stubs()
    try:
        sms = TwilioSmsChannel(ACCOUNT, "t" * 32, messaging_service_sid="MG" + "a" * 32,
                               status_callback_base="https://relance.example/webhooks/twilio/status",
                               base_url=urls["twilio"], rate_per_second=args.sms_rate,
                               max_concurrency=args.sms_concurrency, timeout=10.0)
        email = SendGridEmailChannel("SG.bench", from_email="relance@relance.example", from_name="Relance",
                                     unsubscribe_url_base="https://relance.example/desinscription",
                                     host=urls["sendgrid"], rate_per_second=args.email_rate,
                                     max_concurrency=args.email_concurrency, timeout=10.0)
        results = {"sms": run_channel(container, Channel.SMS, sms),
                   "email": run_channel(container, Channel.EMAIL, email)}
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    backend = container.engine.dialect.name
    summary = {"backend": backend, "planned": planned, "setup_seconds": round(setup, 1), **results,
               "peak_rss_mib": round(peak_rss_mib())}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{backend}: {planned['sms']} SMS and {planned['email']} emails planned ({setup:.1f} s of set-up)")
    for name, rate, concurrency in (("sms", args.sms_rate, args.sms_concurrency),
                                    ("email", args.email_rate, args.email_concurrency)):
        r = results[name]
        verdict = "met" if (r["per_second"] or 0) >= TARGET_PER_SECOND else "MISSED"
        print(f"{name:5}  {r['sent']} sent in {r['seconds']} s = {r['per_second']}/s "
              f"(limit {rate:g}/s, {concurrency} threads; failed {r['failed']}, retried {r['retried']}, "
              f"ambiguous {r['ambiguous']})  target >= {TARGET_PER_SECOND}/s: {verdict}")
    print(f"peak memory {summary['peak_rss_mib']} MiB")


if __name__ == "__main__":
    main()
