"""Rendering of the SMS, email and call-script templates, through one Jinja2 environment.

Template names read "<kind>/<name>" (the bare "<name>" is accepted too):

    sms/<name>    templates/sms/<name>.txt    first line may declare `{# max_segments: N #}` (default 2)
    email/<name>  templates/email/<name>.subject.txt, <name>.html, <name>.txt
    call/<name>   templates/call/<name>.md    agent scripts
    letter/<name> templates/letter/<name>.html (rendered to PDF by channels/letters_pdf.py)

The environment is strict (a missing variable raises), escapes HTML only in `.html` templates and
provides the filters `money` ("1 234,56 €"), `date_fr` ("31 décembre 2025", "1er mars 2026"),
`date_short` ("31/12/2025"), `phone_fr` ("04 78 00 00 00") and `iban_groups`, all French (Babel fr_FR).
`trim_blocks` and `lstrip_blocks` are on, as for the letters: a line holding only a `{% ... %}` tag
leaves nothing behind, but a tag ending a line of text eats that line's newline, so put block tags
on lines of their own in text templates. SMS lose their surplus spaces and blank lines.

SMS are transliterated to GSM-7 by default (see channels/sms_encoding.py): a single "ê" or the
no-break space inside "1 234,56 €" would otherwise switch the whole text to UCS-2, where a
160-character relance costs 3 segments instead of 1. Every SMS template is rendered at load with a
worst-case context (38-character names, 999 999,99 € amounts, long references, every optional line
present) and refused if it can exceed the segments it declares: a cost overrun is found when the
template is written, not on a million sends.

The render context is a plain dict; `sample_context(as_of)` shows every key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from babel.dates import format_date
from babel import Locale

from channels.sms_encoding import measure, to_gsm7
from models.money import format_money

__all__ = [
    "DEFAULT_MAX_SEGMENTS",
    "DEFAULT_TEMPLATES_DIR",
    "RenderedEmail",
    "RenderedSms",
    "TemplateError",
    "TemplateRenderer",
    "date_fr",
    "date_short",
    "make_environment",
    "money",
    "sample_context",
    "worst_case_contexts",
]

DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
DEFAULT_MAX_SEGMENTS = 2
LOCALE = Locale.parse("fr_FR")  # parsed once: Babel parses a locale string on every call

_MAX_SEGMENTS_LINE = re.compile(r"^\{#-?\s*max_segments\s*:\s*(\d+)\s*-?#\}")


class TemplateError(Exception):
    """A template cannot be rendered, or can produce a text that breaks its own limits."""

    def __init__(self, template: str, reason: str) -> None:
        super().__init__(f"{template}: {reason}")
        self.template = template
        self.reason = reason


class SmsTooLongError(TemplateError):
    """A rendered SMS needs more segments than its template declares."""


@dataclass(frozen=True)
class RenderedSms:
    text: str
    encoding: str  # "GSM-7" | "UCS-2"
    segments: int
    max_segments: int = DEFAULT_MAX_SEGMENTS


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


# ------------------------------------------------------------------------------------------------
# Filters
# ------------------------------------------------------------------------------------------------


def money(value: Decimal | int | str | None) -> str:
    """Decimal("1234.56") -> "1 234,56 €" (Babel puts no-break spaces; SMS turn them into spaces)."""
    if value is None:
        return ""
    if isinstance(value, float):
        raise TypeError("money must be a Decimal, never a float")
    return format_money(Decimal(value))  # rounded half up, as everywhere else


def _as_date(value: date | datetime | str | None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def date_fr(value: date | datetime | str | None) -> str:
    """31 décembre 2025; the first of the month is written "1er", as French does."""
    day = _as_date(value)
    if day is None:
        return ""
    text = format_date(day, "long", locale=LOCALE)
    return "1er" + text[1:] if day.day == 1 else text


def date_short(value: date | datetime | str | None) -> str:
    day = _as_date(value)
    return "" if day is None else format_date(day, "dd/MM/y", locale=LOCALE)


def phone_fr(value: str | None) -> str:
    """+33478000000 -> "04 78 00 00 00"; other numbers are left as they are."""
    if not value:
        return ""
    if value.startswith("+33") and len(value) == 12 and value[1:].isdigit():
        national = "0" + value[3:]
        return " ".join(national[i : i + 2] for i in range(0, 10, 2))
    return value


def iban_groups(value: str | None) -> str:
    compact = (value or "").replace(" ", "")
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


FILTERS = {
    "money": money,
    "date_fr": date_fr,
    "date_short": date_short,
    "phone_fr": phone_fr,
    "iban_groups": iban_groups,
}


def make_environment(templates_dir: str | os.PathLike[str] | None = None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir or DEFAULT_TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        # Escaping belongs to HTML only: an SMS or a subject with "&amp;" would be a visible bug.
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html",), disabled_extensions=(), default_for_string=False, default=False
        ),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(FILTERS)
    return env


# ------------------------------------------------------------------------------------------------
# Contexts
# ------------------------------------------------------------------------------------------------

SAMPLE_OFFICE = {
    "name": "Cabinet Relance Recouvrement",
    "address_lines": ["12 RUE DE LA REPUBLIQUE", "69002 LYON"],
    "phone": "+33478000000",
    "email": "contact@relance.example",
    "website": "https://relance.example",
    "iban": "FR7630006000011234567890189",
    "bic": "AGRIFRPP",
    "payment_url": "https://relance.example/payer",
}


def sample_context(as_of: date) -> dict[str, Any]:
    """A realistic, fictional context with every key a template may use (previews and tests)."""
    claims = [
        {
            "invoice_ref": "FA-2025-0412",
            "due_date": as_of - timedelta(days=75),
            "principal": Decimal("840.00"),
            "interest": Decimal("12.43"),
            "costs": Decimal("40.00"),
            "total": Decimal("892.43"),
        },
        {
            "invoice_ref": "FA-2025-0517",
            "due_date": as_of - timedelta(days=45),
            "principal": Decimal("394.56"),
            "interest": Decimal("3.02"),
            "costs": Decimal("0.00"),
            "total": Decimal("397.58"),
        },
    ]
    return {
        "office": dict(SAMPLE_OFFICE),
        "creditor": {
            "name": "Lumière Énergie",
            "legal_name": "Lumière Énergie SAS",
            "address_lines": ["4 AVENUE DES CANUTS", "69100 VILLEURBANNE"],
        },
        "debtor": {
            "display_name": "Mme Françoise Lefèvre",
            "civility": "Mme",
            "last_name": "Lefèvre",
            "company_name": None,
            "is_company": False,
        },
        "dossier": {
            "id": 10427,
            "reference": "D-2025-010427",
            "payment_reference": "RL10427K",
            "first_letter_ref": "L-2025-000981",
            "first_letter_on": as_of - timedelta(days=30),
        },
        "claims": claims,
        "totals": {
            "principal": Decimal("1234.56"),
            "interest": Decimal("15.45"),
            "costs": Decimal("40.00"),
            "balance": Decimal("1290.01"),
        },
        "as_of": as_of,
        "step": {"scenario": "particulier_standard", "name": "premiere_relance"},
        "promise": {"amount": Decimal("300.00"), "date": as_of + timedelta(days=10)},
        "installment": {
            "number": 2,
            "count": 6,
            "amount": Decimal("215.00"),
            "due_date": as_of + timedelta(days=5),
        },
        "unsubscribe_url": "https://relance.example/desinscription?t=exemple",
        "payment": {
            "id": 5821,
            "amount": Decimal("300.00"),
            "received_on": as_of - timedelta(days=1),
            "method": "transfer",
            "principal": Decimal("284.55"),
            "interest": Decimal("15.45"),
            "costs": Decimal("0.00"),
            "unapplied": Decimal("0.00"),
            "balance_after": Decimal("990.01"),
        },
    }


def _exactly(text: str, length: int) -> str:
    return (text * (length // len(text) + 1))[:length]


WORST_NAME_CHARS = 38  # NF Z10-011 line width: names longer than this are cut at import
WORST_AMOUNT = Decimal("999999.99")  # "999 999,99 €"
WORST_REFERENCE_CHARS = 24
# The longest French long date: a two-digit day in "septembre".
WORST_DATE = date(2025, 9, 30)


def worst_case_contexts(office: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Contexts that make a template as long as it can plausibly get: a person and a company."""
    amount = WORST_AMOUNT
    name = _exactly("Marie-Christine Delaunay-Montgolfier ", WORST_NAME_CHARS)
    company = _exactly("Société Générale de Transports Rhodaniens ", WORST_NAME_CHARS)
    reference = _exactly("REL-2025-ABCDEF-0123456789", WORST_REFERENCE_CHARS)
    base = sample_context(WORST_DATE)
    base["office"] = dict(office) if office is not None else dict(SAMPLE_OFFICE)
    base["creditor"] = {
        "name": company,
        "legal_name": company,
        "address_lines": [_exactly("RESIDENCE DES GRANDS CHENES BATIMENT ", 38), "69100 VILLEURBANNE"],
    }
    base["dossier"] = {
        "id": 99_999_999,
        "reference": reference,
        "payment_reference": reference,
        "first_letter_ref": reference,
        "first_letter_on": WORST_DATE,
    }
    base["claims"] = [
        {
            "invoice_ref": reference,
            "due_date": WORST_DATE,
            "principal": amount,
            "interest": amount,
            "costs": amount,
            "total": amount,
        }
        for _ in range(3)
    ]
    base["totals"] = {"principal": amount, "interest": amount, "costs": amount, "balance": amount}
    base["step"] = {"scenario": _exactly("scenario_", WORST_NAME_CHARS), "name": _exactly("step_", 38)}
    base["promise"] = {"amount": amount, "date": WORST_DATE}
    base["installment"] = {"number": 12, "count": 12, "amount": amount, "due_date": WORST_DATE}
    base["unsubscribe_url"] = "https://relance.example/desinscription?t=" + "x" * 64
    base["payment"] = {"id": 99_999_999, "amount": amount, "received_on": WORST_DATE, "method": "transfer",
                       "principal": amount, "interest": amount, "costs": amount, "unapplied": amount,
                       "balance_after": amount}

    person = dict(base)
    person["debtor"] = {
        "display_name": name,
        "civility": "Madame",
        "last_name": name,
        "company_name": None,
        "is_company": False,
    }
    firm = dict(base)
    firm["debtor"] = {
        "display_name": company,
        "civility": None,
        "last_name": None,
        "company_name": company,
        "is_company": True,
    }
    return [person, firm]


# ------------------------------------------------------------------------------------------------
# Renderer
# ------------------------------------------------------------------------------------------------


def _bare_name(name: str, kind: str) -> str:
    if "/" in name:
        prefix, _, rest = name.partition("/")
        if prefix != kind:
            raise TemplateError(name, f"is not a {kind} template")
        return rest
    return name


def _tidy_sms(text: str) -> str:
    """Whitespace costs money in an SMS: drop what template layout leaves behind."""
    lines = [re.sub(r" {2,}", " ", line).strip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def _tidy_text(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines()) + "\n"


class TemplateRenderer:
    """Renders the templates of one folder; SMS templates are checked against their limits at load.

    `office`, when given, is used in the worst-case check (the office's own name and phone are
    fixed per installation, so the check uses the real ones).
    """

    def __init__(
        self,
        templates_dir: str | os.PathLike[str] | None = None,
        *,
        transliterate_sms: bool = True,
        check: bool = True,
        office: Mapping[str, Any] | None = None,
    ) -> None:
        self.templates_dir = Path(templates_dir) if templates_dir else DEFAULT_TEMPLATES_DIR
        self.env = make_environment(self.templates_dir)
        self.transliterate_sms = transliterate_sms
        self.office = office
        self._max_segments: dict[str, int] = {}
        if check:
            self.check_sms_templates()

    # -- discovery ---------------------------------------------------------------------------

    def sms_template_names(self) -> list[str]:
        folder = self.templates_dir / "sms"
        if not folder.is_dir():
            return []
        return sorted(f"sms/{path.stem}" for path in folder.glob("*.txt"))

    def sms_max_segments(self, name: str) -> int:
        bare = _bare_name(name, "sms")
        if bare not in self._max_segments:
            source = self._source(f"sms/{bare}.txt")
            first_line = source.lstrip().split("\n", 1)[0]
            match = _MAX_SEGMENTS_LINE.match(first_line)
            self._max_segments[bare] = int(match.group(1)) if match else DEFAULT_MAX_SEGMENTS
        return self._max_segments[bare]

    def _source(self, path: str) -> str:
        try:
            source, _, _ = self.env.loader.get_source(self.env, path)
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(path, "template not found") from exc
        return source

    def _render(self, path: str, context: Mapping[str, Any]) -> str:
        try:
            return self.env.get_template(path).render(context)
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(path, "template not found") from exc
        except jinja2.UndefinedError as exc:
            raise TemplateError(path, f"undefined variable: {exc.message}") from exc
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(path, f"syntax error line {exc.lineno}: {exc.message}") from exc
        except (TypeError, ValueError, ArithmeticError) as exc:
            # A filter refused a value; its text may quote the value, so it stays in the cause.
            raise TemplateError(path, f"{type(exc).__name__} while rendering") from exc

    # -- rendering ---------------------------------------------------------------------------

    def _sms(self, name: str, context: Mapping[str, Any]) -> RenderedSms:
        bare = _bare_name(name, "sms")
        text = self._render(f"sms/{bare}.txt", context)
        if self.transliterate_sms:
            text = to_gsm7(text)
        text = _tidy_sms(text)
        length = measure(text)
        return RenderedSms(text, length.encoding, length.segments, self.sms_max_segments(bare))

    def render_sms(self, name: str, context: Mapping[str, Any]) -> RenderedSms:
        sms = self._sms(name, context)
        if sms.segments > sms.max_segments:
            raise SmsTooLongError(
                f"sms/{_bare_name(name, 'sms')}.txt",
                f"{sms.segments} segments ({sms.encoding}), more than the {sms.max_segments} declared",
            )
        return sms

    def render_email(self, name: str, context: Mapping[str, Any]) -> RenderedEmail:
        bare = _bare_name(name, "email")
        subject = " ".join(self._render(f"email/{bare}.subject.txt", context).split())
        html = self._render(f"email/{bare}.html", context).strip() + "\n"
        text = _tidy_text(self._render(f"email/{bare}.txt", context))
        if not subject:
            raise TemplateError(f"email/{bare}.subject.txt", "renders an empty subject")
        return RenderedEmail(subject, html, text)

    def render_text(self, name: str, context: Mapping[str, Any]) -> str:
        """An agent's call script (Markdown)."""
        bare = _bare_name(name, "call")
        return _tidy_text(self._render(f"call/{bare}.md", context))

    # -- load-time check ---------------------------------------------------------------------

    def check_sms_templates(self) -> None:
        """Raise TemplateError for the first SMS template that can exceed its max segments."""
        contexts = worst_case_contexts(self.office)
        for name in self.sms_template_names():
            worst = max((self._sms(name, ctx) for ctx in contexts), key=lambda s: s.segments)
            if worst.segments > worst.max_segments:
                raise SmsTooLongError(
                    f"{name}.txt",
                    f"can take {worst.segments} segments ({worst.encoding}, worst case), "
                    f"more than the {worst.max_segments} declared",
                )
