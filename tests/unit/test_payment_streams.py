"""How a big payment import is cut into streams: by dossier, in file order, chunk by chunk."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from models.references import payment_reference
from services.payment_files import IncomingPayment
from services.payment_streams import partition


def test_the_payments_of_a_dossier_go_to_one_stream_in_file_order():
    def p(n: int, dossier: int | None) -> IncomingPayment:
        ref = payment_reference(dossier, compact=True) if dossier else None
        return IncomingPayment(n, f"P{n}", Decimal("1.00"), "EUR", date(2025, 6, 1), reference=ref)

    payments = [p(n, dossier) for n, dossier in enumerate([4, 7, None, 4, 9, 7, 4, None, 10], start=1)]

    parts, unreferenced = partition(payments, streams=2, chunk=4)

    assert [[[x.external_id for x in part] for part in stream] for stream in parts] == [
        [["P1", "P4"], ["P7"], ["P9"]], [["P2"], ["P5", "P6"]]]
    assert [x.external_id for x in unreferenced] == ["P3", "P8"]
