"""Column types shared by every entity: money, rates and UTC timestamps.

SQLite has no exact decimal type: values come back through a float. Money is therefore
quantized to the cent on the way out, which is exact for every amount below 10^13 EUR.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import DateTime, Numeric
from sqlalchemy.types import TypeDecorator

CENT = Decimal("0.01")
COST_UNIT = Decimal("0.00001")


class MoneyType(TypeDecorator):
    """Numeric(14, 2) that always yields a Decimal quantized to the cent."""

    impl = Numeric(14, 2, asdecimal=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money must be a Decimal, never a float")
        return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


class CostType(TypeDecorator):
    """A provider's unit cost and the sums of them: Numeric(14, 5). An email costs a tenth of a
    cent and an SMS segment 4.5 cents, so costs keep five decimals and are rounded to the cent
    (half up) once, where a report sums them."""

    impl = Numeric(14, 5, asdecimal=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("costs must be Decimal, never float")
        return Decimal(value).quantize(COST_UNIT, rounding=ROUND_HALF_UP)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(str(value)).quantize(COST_UNIT, rounding=ROUND_HALF_UP)


class RateType(TypeDecorator):
    """A percentage or fraction with four decimals (3.7100 %, 0.1500 commission)."""

    impl = Numeric(9, 4, asdecimal=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("rates must be Decimal, never float")
        return Decimal(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(str(value)).quantize(Decimal("0.0001"))


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC timestamps on every database (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
