"""Column types that keep money, ratios and instants exact on SQLite and PostgreSQL alike.

Decimals are stored as scaled integers (cents, hundredths of an hour, millionths of a ratio) so that
``SUM`` is exact in SQL on both backends; instants are stored in UTC and refused when naive.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.types import NullType, TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime refused by the database layer: {value!r}")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQLite text from an aggregate
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


class ScaledDecimal(TypeDecorator[Decimal]):
    """A Decimal stored as an integer number of 1/scale units."""

    impl = BigInteger
    cache_ok = True

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        scaled = Decimal(value) * self.scale
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more precision than 1/{self.scale}")
        return int(scaled)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(int(value)) / self.scale


#: Euros to the cent.
Money = ScaledDecimal(100)
#: Hours to the hundredth (151,67 h).
Hours = ScaledDecimal(100)
#: Shares and rates to the millionth (7,5 % = 0.075).
Ratio = ScaledDecimal(1_000_000)


def raw(column: Any) -> Any:
    """``column`` as the driver returns it, without the type's conversion: for the few queries
    that read thousands of rows where the same few dates repeat (``RawDates`` converts each
    distinct value once)."""
    return type_coerce(column, NullType())


class RawDates:
    """Dates and instants read ``raw``: SQLite gives text, PostgreSQL ``date``/naive
    ``datetime`` objects (UTC, as ``UTCDateTime`` stores them); each distinct value is
    converted once."""

    def __init__(self) -> None:
        self._days: dict[Any, date] = {}
        self._instants: dict[Any, datetime] = {}

    def day(self, value: Any) -> date:
        found = self._days.get(value)
        if found is None:
            found = value if isinstance(value, date) else date.fromisoformat(value)
            self._days[value] = found
        return found

    def instant(self, value: Any) -> datetime:
        found = self._instants.get(value)
        if found is None:
            read = value if isinstance(value, datetime) else datetime.fromisoformat(value)
            found = read.replace(tzinfo=UTC)
            self._instants[value] = found
        return found
