"""Settings, read once from the environment (prefix RELANCE_) or a `.env` file."""

from __future__ import annotations

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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RELANCE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///relance.db"
    outbox_dir: Path = Path("outbox")
    # Extra or corrected rate tables; rows here override the shipped ones (see models/rates.py).
    rates_dir: Path | None = None
    import_chunk_rows: int = Field(default=5000, ge=100, le=100_000)
    office: OfficeSettings = Field(default_factory=OfficeSettings)
    channels: ChannelSettings = Field(default_factory=ChannelSettings)
    # Web console: the key that signs session cookies (set it, or every restart signs everyone
    # out and several server processes disagree); `cookie_secure` false only for local plain http.
    session_secret: str | None = None
    cookie_secure: bool = True
    session_hours: int = Field(default=10, ge=1, le=24)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    # Longest payment plan an agent may agree on a call.
    plan_max_months: int = Field(default=24, ge=1, le=120)
    # Portfolio files uploaded through the manager's import page, and their rejected rows.
    uploads_dir: Path = Path("uploads")


def load_settings(**overrides) -> Settings:
    return Settings(**overrides)
