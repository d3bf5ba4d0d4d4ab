"""Settings, read once from the environment (prefix RELANCE_) or a `.env` file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.channel_settings import ChannelSettings

REPO_ROOT = Path(__file__).resolve().parent.parent


class OfficeSettings(BaseSettings):
    """The recovery office's identity, printed on every letter (CPCE R124-4, 1°)."""

    model_config = SettingsConfigDict(env_prefix="RELANCE_OFFICE_", env_file=".env", extra="ignore")

    name: str = "Cabinet Relance Recouvrement"
    address_lines: list[str] = ["12 RUE DE LA REPUBLIQUE", "69002 LYON"]
    siren: str = "552100554"
    phone: str = "+33478000000"
    email: str = "contact@relance.example"
    website: str = "https://relance.example"
    # Where debtors pay: printed on letters (R124-4, 4°).
    iban: str = "FR7630006000011234567890189"
    bic: str = "AGRIFRPP"
    payment_url: str = "https://relance.example/payer"
    # The IBAN above is the compte affecté (R124-6): remittances to creditors are debited from it.
    # The office's own account, which receives its fees when a remittance is made.
    fees_iban: str = "FR7630004000010001234567830"
    fees_bic: str | None = "BNPAFRPP"


class ReportingSettings(BaseSettings):
    """The reporting table: unit costs the outbox does not record, attribution, refresh."""

    model_config = SettingsConfigDict(env_prefix="RELANCE_", env_file=".env", extra="ignore")

    # Agent time (message costs are recorded per action by the dispatcher, RELANCE_COST_SMS_SEGMENT...).
    cost_agent_minute: Decimal = Field(default=Decimal("0.60"), ge=0)
    # Minutes per call attempt when the call outcome does not carry its duration.
    call_minutes_per_attempt: Decimal = Field(default=Decimal("3"), ge=0)
    # Money, promises and plans go to the last action sent to the dossier within this many days.
    report_attribution_days: int = Field(default=30, ge=0, le=366)
    # The nightly refresh rebuilds these last days, plus every day something changed since.
    report_lookback_days: int = Field(default=3, ge=0, le=366)
    report_dir: Path = Path("rapports")

    def policy(self):
        """What services.reporting_build needs from these settings (it takes no settings object)."""
        from services.reporting_build import ReportPolicy

        return ReportPolicy(attribution_days=self.report_attribution_days,
                            minutes_per_attempt=self.call_minutes_per_attempt,
                            cost_agent_minute=self.cost_agent_minute)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RELANCE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///relance.db"
    outbox_dir: Path = Path("outbox")
    # Extra or corrected rate tables; rows here override the shipped ones (see models/rates.py).
    rates_dir: Path | None = None
    import_chunk_rows: int = Field(default=5000, ge=100, le=100_000)
    # Remittances to creditors (relance remit): where the statements and SEPA files go, and how
    # many days after receipt a payment counts as cleared, per method (a cheque can still
    # bounce; other methods default to 0). Unverified default: set it to your bank's practice.
    remittance_dir: Path = Path("reversements")
    remittance_clearing_days: dict[str, int] = Field(default_factory=lambda: {"cheque": 14})
    # Data lifecycle (services/lifecycle.py). A closed dossier is archived after this many days
    # (time for a bounced cheque to reopen it); personal data is kept for the mandate's
    # `retention_years` after closing (5 by default); the books for `retention_accounting_years`.
    archive_after_days: int = Field(default=30, ge=0, le=3650)
    retention_accounting_years: int = Field(default=10, ge=1, le=100)
    # Several workers: provider rate limits held across machines by Prefect global concurrency
    # limits named relance-sms, relance-email, relance-letter (docs/production.md creates them).
    global_rate_limits: bool = False
    global_rate_limit_step: int = Field(default=10, ge=1, le=1000)  # slots taken at a time
    office: OfficeSettings = Field(default_factory=OfficeSettings)
    channels: ChannelSettings = Field(default_factory=ChannelSettings)
    reporting: ReportingSettings = Field(default_factory=ReportingSettings)
    # Web console: the key that signs session cookies (set it, or every restart signs everyone
    # out and several server processes disagree); `cookie_secure` false only for local plain http.
    session_secret: str | None = None
    cookie_secure: bool = True
    session_hours: int = Field(default=10, ge=1, le=24)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    # Longest payment plan an agent may agree on a call.
    plan_max_months: int = Field(default=24, ge=1, le=120)
    # Portfolio files uploaded through the manager's import page, and their rejected rows: full of
    # personal data and only needed until the creditor has corrected them, so `relance purge`
    # deletes them this many days after they were written.
    uploads_dir: Path = Path("uploads")
    uploads_retention_days: int = Field(default=90, ge=1, le=3650)


def load_settings(**overrides) -> Settings:
    return Settings(**overrides)
