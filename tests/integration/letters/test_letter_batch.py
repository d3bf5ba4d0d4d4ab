"""The day's print batch: one PDF, one manifest, and the letter channel that fills them."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from pypdf import PdfReader, PdfWriter

from channels.base import Failed, OutgoingMessage, Sent
from channels.errors import FailureCode
from channels.letter_channel import LetterChannel
from channels.letters_pdf import LetterBatch, read_manifest
from models.enums import Channel
from tests.integration.letters.conftest import pdf_pages
from tests.integration.letters.samples import LETTERS, sample_context


def add_all(batch: LetterBatch, rendered, names) -> None:
    for action_id, name in enumerate(names, start=100):
        context = LETTERS[name]()
        batch.add(
            rendered[name],
            action_id=str(action_id),
            letter_reference=context["letter"]["reference"],
            dossier_id=context["dossier"]["id"],
            address_lines=context["recipient"]["address_lines"],
        )


def test_the_batch_pdf_has_as_many_pages_as_its_letters_together(rendered, tmp_path):
    names = sorted(LETTERS)
    batch = LetterBatch(tmp_path, "letters-2025-04-07")
    add_all(batch, rendered, names)
    files = batch.write()
    assert files.pdf_path == tmp_path / "letters-2025-04-07.pdf"
    assert len(PdfReader(files.pdf_path).pages) == sum(rendered[n].page_count for n in names) == files.pages


def test_the_manifest_has_one_row_per_letter_with_its_first_page_in_the_batch(rendered, tmp_path):
    names = sorted(LETTERS)
    batch = LetterBatch(tmp_path, "b1")
    add_all(batch, rendered, names)
    files = batch.write()
    rows = read_manifest(files.manifest_path)
    assert [row["template"] for row in rows] == [f"letter/{n}.html" for n in names]
    pages = pdf_pages(files.pdf_path.read_bytes())
    expected_first = 1
    for row, name in zip(rows, names):
        context = LETTERS[name]()
        assert int(row["first_page"]) == expected_first
        assert int(row["page_count"]) == rendered[name].page_count
        assert row["letter_reference"] == context["letter"]["reference"]
        assert row["dossier_id"] == context["dossier"]["id"]
        assert row["address_line_1"] == context["recipient"]["address_lines"][0]
        assert (row["postcode"], row["city"]) == tuple(context["recipient"]["address_lines"][-1].split(" ", 1))
        assert f"courrier {row['letter_reference']}" in pages[expected_first - 1]
        expected_first += int(row["page_count"])


def first_page_only(pdf: bytes) -> bytes:
    writer = PdfWriter()
    writer.add_page(PdfReader(io.BytesIO(pdf)).pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_duplex_batch_starts_every_letter_on_a_recto(rendered, tmp_path):
    one_page = first_page_only(rendered["premiere_relance"].pdf)
    lines = sample_context()["recipient"]["address_lines"]
    for duplex, expected_first_pages, expected_total in ((False, [1, 2], 3), (True, [1, 3], 4)):
        batch = LetterBatch(tmp_path, f"duplex-{duplex}", duplex=duplex)
        batch.add(one_page, action_id="1", letter_reference="L1", dossier_id="1", address_lines=lines)
        batch.add(rendered["mise_en_demeure"], action_id="2", letter_reference="L2", dossier_id="1",
                  address_lines=lines)
        files = batch.write()
        assert [row.first_page for row in files.rows] == expected_first_pages
        assert len(PdfReader(files.pdf_path).pages) == expected_total == files.pages


def test_the_batch_files_are_replaced_whole_and_leave_no_temporary_file(rendered, tmp_path):
    batch = LetterBatch(tmp_path, "same")
    add_all(batch, rendered, ["premiere_relance"])
    batch.write()
    batch.write()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.csv", "same.pdf"]


# -- the letter channel ----------------------------------------------------------------------


def message(action_id: int, name: str, context: dict) -> OutgoingMessage:
    return OutgoingMessage(
        action_id=action_id,
        idempotency_key=f"dossier:{context['dossier']['id']}:step:{name}:{action_id}",
        channel=Channel.LETTER,
        to="\n".join(context["recipient"]["address_lines"]),
        body_text="",
        metadata={"template": f"letter/{name}", "context": context},
    )


class CountingRenderer:
    """Counts the channel's render calls; the same letter is rendered once per test session."""

    _cache: dict[str, object] = {}

    def __init__(self, renderer):
        self.inner, self.calls = renderer, 0

    def render_letter(self, name, context):
        self.calls += 1
        key = json.dumps([name, context], default=str, sort_keys=True)
        if key not in self._cache:
            self._cache[key] = self.inner.render_letter(name, context)
        return self._cache[key]


@pytest.fixture
def channel(renderer, tmp_path):
    return LetterChannel(tmp_path / "spool", renderer=CountingRenderer(renderer), today=lambda: date(2025, 4, 7))


def grenoble(context: dict) -> dict:
    context["recipient"] = {"address_lines": ["M JEAN MARTIN", "3 RUE NEUVE", "38000 GRENOBLE"]}
    context["letter"] = dict(context["letter"], reference="L-2025-000312")
    return context


def test_sending_a_letter_spools_it_and_answers_the_letter_reference(channel):
    outcomes = channel.send_batch([message(1, "premiere_relance", sample_context())])
    assert outcomes == [Sent(1, "L-2025-000311")]
    assert channel.pending_count() == 1
    assert channel.reconcile(message(1, "premiere_relance", sample_context())) == Sent(1, "L-2025-000311")


def test_sending_the_same_action_twice_renders_and_spools_it_once(channel):
    first = channel.send_batch([message(1, "premiere_relance", sample_context())])
    again = channel.send_batch([message(1, "premiere_relance", sample_context())])
    assert first == again and channel.renderer.calls == 1 and channel.pending_count() == 1


def test_a_letter_that_cannot_be_made_lawful_fails_permanently_and_the_rest_of_the_batch_is_sent(channel):
    outcomes = channel.send_batch([
        message(1, "mise_en_demeure", sample_context()),  # no first-letter reference
        message(2, "premiere_relance", sample_context()),
    ])
    assert isinstance(outcomes[0], Failed) and outcomes[0].permanent
    assert outcomes[1] == Sent(2, "L-2025-000311")


def test_reconcile_is_sure_a_letter_never_spooled_was_not_sent(channel):
    outcome = channel.reconcile(message(9, "premiere_relance", sample_context()))
    assert isinstance(outcome, Failed) and outcome.retryable
    assert outcome.error.code == FailureCode.NOT_ACCEPTED


def test_closing_the_batch_prints_pending_letters_sorted_by_postcode_and_empties_the_queue(channel):
    channel.send_batch([
        message(1, "premiere_relance", sample_context()),  # 33100 BORDEAUX
        message(2, "premiere_relance", grenoble(sample_context())),  # 38000 GRENOBLE
    ])
    files = channel.close_batch()
    rows = read_manifest(files.manifest_path)
    assert [(r["action_id"], r["postcode"]) for r in rows] == [("1", "33100"), ("2", "38000")]
    assert files.pdf_path.name == "letters-2025-04-07.pdf"
    assert channel.pending_count() == 0
    assert channel.close_batch() is None
    assert channel.reconcile(message(2, "premiere_relance", sample_context())) == Sent(2, "L-2025-000312")


def test_a_second_batch_on_the_same_day_gets_its_own_files(channel):
    channel.send_batch([message(1, "premiere_relance", sample_context())])
    first = channel.close_batch()
    channel.send_batch([message(2, "premiere_relance", grenoble(sample_context()))])
    second = channel.close_batch()
    assert first.pdf_path.name == "letters-2025-04-07.pdf"
    assert second.pdf_path.name == "letters-2025-04-07-2.pdf"
    assert [r["action_id"] for r in read_manifest(second.manifest_path)] == ["2"]


def test_an_interrupted_close_is_completed_by_the_next_one(channel, tmp_path):
    channel.send_batch([message(1, "premiere_relance", sample_context())])
    files = channel.close_batch()
    files.manifest_path.unlink()  # as if the process died before writing the manifest
    files.pdf_path.unlink()
    assert channel.close_batch() is None
    rows = read_manifest(files.manifest_path)
    assert [r["action_id"] for r in rows] == ["1"]
    assert len(PdfReader(files.pdf_path).pages) == int(rows[0]["page_count"])


def test_a_letter_already_rendered_elsewhere_is_spooled_from_its_pdf_path(channel, first_letter, tmp_path):
    path = tmp_path / "L-2025-000311.pdf"
    path.write_bytes(first_letter.pdf)
    context = sample_context()
    msg = OutgoingMessage(
        action_id=5, idempotency_key="k5", channel=Channel.LETTER, to="", body_text="",
        metadata={"template": "letter/premiere_relance", "pdf_path": str(path),
                  "letter_reference": "L-2025-000311", "dossier_id": 1042,
                  "address_lines": context["recipient"]["address_lines"]},
    )
    assert channel.send_batch([msg]) == [Sent(5, "L-2025-000311")]
    record = json.loads((tmp_path / "spool" / "pending" / "5.json").read_text())
    assert record["page_count"] == first_letter.page_count and channel.renderer.calls == 0
    assert PdfReader(io.BytesIO((tmp_path / "spool" / "pending" / "5.pdf").read_bytes())).pages
