"""The ladder of a past moment when a cancellation called its month afresh since
(``services.ladders_then``): the earlier call holds from when it was made until the
cancellation; before it, and after the cancellation, the row of today says what was true."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from workflow.services.ladders_then import EarlierCall, ladder_then, stated_due

PARIS = ZoneInfo("Europe/Paris")


def at(day: int, month: int, hour: int = 9) -> datetime:
    return datetime(2027, month, day, hour, tzinfo=PARIS)


EARLIER = EarlierCall(
    called_at=at(1, 3), due_on=date(2027, 3, 10), voided_at=at(5, 5, 10), stepped_at=at(15, 3)
)
#: The ladder of today: called afresh on 6 May, due 19 May.
TODAY = (date(2027, 5, 19), at(6, 5))


def test_the_earlier_call_holds_until_the_cancellation() -> None:
    assert ladder_then(*TODAY, [EARLIER], at(22, 3, 7), PARIS) == (date(2027, 3, 10), at(1, 3))
    assert ladder_then(*TODAY, [EARLIER], at(5, 5, 9), PARIS) == (date(2027, 3, 10), at(1, 3))


def test_before_the_earlier_call_and_after_the_cancellation_the_row_of_today() -> None:
    assert ladder_then(*TODAY, [EARLIER], at(28, 2), PARIS) == TODAY
    # Cancelled, the new call to come: « pas encore due, appel prévu le 6 mai ».
    assert ladder_then(*TODAY, [EARLIER], at(5, 5, 11), PARIS) == TODAY
    assert ladder_then(*TODAY, [EARLIER], at(7, 5), PARIS) == TODAY
    # No call on the row yet (the cancellation's call waiting for its slot).
    assert ladder_then(date(2027, 5, 19), None, [EARLIER], at(5, 5, 11), PARIS) == (
        date(2027, 5, 19),
        None,
    )
    assert ladder_then(date(2027, 5, 19), None, [EARLIER], at(2, 4), PARIS) == (
        date(2027, 3, 10),
        at(1, 3),
    )


def test_an_unreadable_due_date_is_past_once_a_reminder_went() -> None:
    unread = EarlierCall(at(1, 3), None, at(5, 5, 10), at(15, 3))
    assert ladder_then(*TODAY, [unread], at(22, 3), PARIS) == (date(2027, 3, 14), at(1, 3))
    never = EarlierCall(at(1, 3), None, at(5, 5, 10), None)
    assert ladder_then(*TODAY, [never], at(22, 3), PARIS) == (date(2027, 3, 22), at(1, 3))


def test_the_due_date_the_call_stated() -> None:
    assert stated_due("… au plus tard le 10 mars 2027. Merci") == date(2027, 3, 10)
    assert stated_due("au plus tard le\u00a01er avril 2027") == date(2027, 4, 1)
    assert stated_due("au plus tard le 31 février 2027") is None
    assert stated_due("sans date") is None
