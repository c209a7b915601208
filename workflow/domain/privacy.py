"""Personal data rules (GDPR), pure: retention periods, what a purge keeps of a birth year, where
a participant's reference is mentioned in free text, and addresses kept out of the logs.

A purge must leave every past report's figures as they were: the reports count participants by
age band in the year they cover (``age_band``), so a purged birth year is replaced by one that
gives the same band in every year from the participant's first declared month to the purge,
chosen from those years and bands only, never from the real year.
"""

from __future__ import annotations

import calendar
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from workflow.domain.summary import AgeBand, age_band

#: The longest retention one may set: a century is surely a typing mistake beyond.
MAX_RETENTION_MONTHS = 1200

_YEAR_UNITS = frozenset(
    {"a", "an", "ans", "annee", "annees", "année", "années", "y", "year", "years"}
)
_MONTH_UNITS = frozenset({"m", "mois", "month", "months"})
_DURATION = re.compile(r"(\d{1,4})\s*([^\d\s]*)")

RETENTION_EXAMPLES = "par exemple 5a (5 ans), 5y, 18m ou 18mois (18 mois)"


@dataclass(frozen=True)
class Retention:
    """How long personal data is kept after a participant's last activity, in months."""

    months: int

    @property
    def label(self) -> str:
        """``5 ans``, ``1 an``, ``18 mois``."""
        if self.months % 12:
            return f"{self.months} mois"
        years = self.months // 12
        return f"{years} an" if years == 1 else f"{years} ans"

    def cutoff(self, today: date) -> date:
        """The day ``months`` months before ``today`` (the 28th for a 29 February that has none):
        what ended before it is past retention."""
        index = today.year * 12 + today.month - 1 - self.months
        year, month = index // 12, index % 12 + 1
        return date(year, month, min(today.day, calendar.monthrange(year, month)[1]))

    def is_past(self, last_day: date, today: date) -> bool:
        """Whether what ended on ``last_day`` is past retention on ``today``."""
        return last_day < self.cutoff(today)

    def first_purge_day(self, last_day: date) -> date:
        """The first day on which what ended on ``last_day`` is past retention."""
        index = last_day.year * 12 + last_day.month - 1 + self.months
        year, month = index // 12, index % 12 + 1
        day = date(year, month, min(last_day.day, calendar.monthrange(year, month)[1]))
        # Month ends: 28 February + 1 month is 28 March, yet the cutoff of 29 to 31 March is
        # still 28 February; step on to the first day ``is_past`` agrees with.
        while not self.is_past(last_day, day):
            day += timedelta(days=1)
        return day


def parse_retention(text: str) -> Retention:
    """``5a``, ``5 ans``, ``5y``, ``18m``, ``18mois``; a bare number counts in years.

    Raises ``ValueError`` with a French message that the caller prefixes with the option or the
    setting's name."""
    found = _DURATION.fullmatch(text.strip().lower())
    if found is None or (found.group(2) and found.group(2) not in _YEAR_UNITS | _MONTH_UNITS):
        raise ValueError(
            f"« {text} » n'est pas une durée : un nombre d'années ou de mois, {RETENTION_EXAMPLES}"
        )
    count, unit = int(found.group(1)), found.group(2)
    months = count if unit in _MONTH_UNITS else count * 12
    if months < 1:
        raise ValueError(f"« {text} » : une durée d'au moins 1 mois est attendue")
    if months > MAX_RETENTION_MONTHS:
        raise ValueError(f"« {text} » : 100 ans au plus")
    return Retention(months)


# --- what a purge keeps of a birth year -----------------------------------------------------------

#: The age a purged birth year is drawn towards, within the years its bands allow: a plausible
#: working age, the same for everyone, so that the year kept says nothing of the real one.
TYPICAL_AGE = 35


def generalised_birth_year(birth_year: int | None, first_year: int, last_year: int) -> int | None:
    """A birth year that gives the same ``age_band`` as ``birth_year`` in every year from
    ``first_year`` to ``last_year``, chosen from those bands alone (the one nearest to
    ``TYPICAL_AGE`` in ``first_year``).

    When the person changed bands within those years, the bands pin the year down and it is
    kept as it was: the past reports already say it."""
    if birth_year is None:
        return None
    low: int | None = None
    high: int | None = None
    for year in range(first_year, last_year + 1):
        band_low, band_high = _band_bounds(age_band(birth_year, year), year)
        if band_low is not None:
            low = band_low if low is None else max(low, band_low)
        if band_high is not None:
            high = band_high if high is None else min(high, band_high)
    chosen = first_year - TYPICAL_AGE
    if low is not None:
        chosen = max(chosen, low)
    if high is not None:
        chosen = min(chosen, high)
    return chosen


def _band_bounds(band: AgeBand, year: int) -> tuple[int | None, int | None]:
    """The birth years (lowest, highest; None: no bound) that fall in ``band`` during ``year``."""
    if band is AgeBand.UNDER_26:
        return year - 25, year
    if band is AgeBand.FROM_26_TO_49:
        return year - 49, year - 26
    if band is AgeBand.FROM_50:
        return None, year - 50
    return year + 1, None  # born after the year: the reports say « non renseigné »


# --- references in free text ----------------------------------------------------------------------


class MentionRewriter:
    """Finds and replaces participants' references in texts, as whole words, in any case (as the
    buyer notices mask them): « P-1 » is not found inside « P-12 »."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._tokens = {reference.lower(): token for reference, token in tokens.items()}
        self._escaped = {
            html.escape(reference).lower(): html.escape(token)
            for reference, token in tokens.items()
        }
        self._text = _pattern(self._tokens)
        self._html = _pattern(self._escaped)

    def found(self, text: str | None) -> set[str]:
        """The references (lower case) ``text`` mentions."""
        if not text or self._text is None:
            return set()
        return {match.group(0).lower() for match in self._text.finditer(text)}

    def rewrite(self, text: str | None) -> tuple[str | None, int]:
        """``text`` with every mention replaced by its token, and how many were replaced."""
        return _replace(text, self._text, self._tokens)

    def rewrite_html(self, text: str | None) -> tuple[str | None, int]:
        """The same for HTML, where references are written escaped."""
        return _replace(text, self._html, self._escaped)


def _pattern(words: Mapping[str, str]) -> re.Pattern[str] | None:
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def _replace(
    text: str | None, pattern: re.Pattern[str] | None, tokens: Mapping[str, str]
) -> tuple[str | None, int]:
    if not text or pattern is None:
        return text, 0
    return pattern.subn(lambda match: tokens[match.group(0).lower()], text)


# --- logs -----------------------------------------------------------------------------------------

_ADDRESS = re.compile(r"[A-Za-z0-9._%+'-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


def mask_addresses(text: str | None) -> str | None:
    """``sophie.lacoste@example.org`` -> ``…@example.org``: a log line names the outbox row, whose
    recipients stay in the database; the domain is kept, it says which server refused."""
    if text is None:
        return None
    return _ADDRESS.sub(lambda match: f"…@{match.group(1)}", text)
