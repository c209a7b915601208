"""The audit reads a summary sent before a rename with today's names (``_renamed``): every name
in one pass, and only a whole name (review of 23c283e)."""

from datetime import UTC, datetime

from workflow.services.audit.summary_emails import _renamed
from workflow.services.history_companies import Rename

AT = datetime(2027, 4, 5, 8, tzinfo=UTC)


def test_two_companies_that_swapped_names_each_take_the_others() -> None:
    swap = [Rename(1, "Alpha", "Beta", AT), Rename(2, "Beta", "Alpha", AT)]
    assert _renamed("Alpha ; Beta", swap) == "Beta ; Alpha"
    assert _renamed("Alpha (mars 2027), Beta (avril 2027)", swap) == (
        "Beta (mars 2027), Alpha (avril 2027)"
    )


def test_a_longer_name_that_starts_with_the_old_one_is_left_alone() -> None:
    renames = [Rename(1, "GIB Insertion", "GIB Insertion (EI)", AT)]
    assert _renamed("GIB Insertion Sud", renames) == "GIB Insertion Sud"
    assert _renamed("GIB Insertion Sud (mars 2027)", renames) == "GIB Insertion Sud (mars 2027)"
    assert _renamed("GIB Insertion", renames) == "GIB Insertion (EI)"
    assert _renamed("GIB Insertion (mars 2027) ; GIB Insertion Sud", renames) == (
        "GIB Insertion (EI) (mars 2027) ; GIB Insertion Sud"
    )
    assert _renamed("GIB Insertion\u00a0: 40 h", renames) == "GIB Insertion (EI)\u00a0: 40 h"


def test_the_longest_name_is_read_first() -> None:
    renames = [
        Rename(1, "GIB", "Groupe GIB", AT),
        Rename(2, "GIB Insertion", "GIB Insertion (EI)", AT),
    ]
    assert _renamed("GIB Insertion, GIB", renames) == "GIB Insertion (EI), Groupe GIB"
