"""Declarative base: one metadata, a naming convention Alembic can rely on, and annotated types."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from sqlalchemy import BigInteger, Enum, Integer, MetaData
from sqlalchemy.orm import DeclarativeBase, mapped_column

from models.types import CostType, MoneyType, RateType, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Big integers on PostgreSQL, plain INTEGER on SQLite so that it stays the rowid alias.
BigId = BigInteger().with_variant(Integer(), "sqlite")

Money = Annotated[Decimal, "money"]
Cost = Annotated[Decimal, "cost"]  # provider costs: fractions of a cent, see CostType
Rate = Annotated[Decimal, "rate"]
PK = Annotated[int, mapped_column(BigId, primary_key=True, autoincrement=True)]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        Money: MoneyType(),
        Cost: CostType(),
        Rate: RateType(),
        datetime: UTCDateTime(),
        int: BigId,
        # Enums as short strings with their values, not native PostgreSQL types: easier migrations.
        enum.Enum: Enum(enum.Enum, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e]),
    }
