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
    office: OfficeSettings = Field(default_factory=OfficeSettings)
    channels: ChannelSettings = Field(default_factory=ChannelSettings)
    reporting: ReportingSettings = Field(default_factory=ReportingSettings)


def load_settings(**overrides) -> Settings:
    return Settings(**overrides)
