"""What a company is told to send: the ``declaration_howto`` variable that the partial
``templates/emails/_base/declaration_howto.{txt,html}`` renders in the welcome and the calls.

Written from the importer's own column definitions (``adapters.declaration_columns``), so that a
company following its email always sends a file the import accepts; the templates attached with
it (``services.declaration_howto.build_attachments``) carry the same names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from workflow.adapters.declaration_columns import (
    DECLARATION_COLUMNS,
    SIRET_UNKNOWN_HINT,
    declaration_titles,
)
from workflow.domain.calendar import due_date, opens_on
from workflow.domain.vocabulary import CONTRACT_LABELS, CRITERION_LABELS, DELIVERY_MODE_LABELS
from workflow.emails.lots import Lot


def spaced_siret(siret: str | None) -> str:
    """``412 345 678 00012``: readable, and a CSV cell Excel keeps as text (14 bare digits
    become 4,12346E+13). The import reads it back with or without the spaces."""
    if not siret:
        return ""
    digits = re.sub(r"\D", "", siret)
    if len(digits) != 14:
        return siret
    return f"{digits[:3]} {digits[3:6]} {digits[6:9]} {digits[9:]}"


def month_cell(month: date | None) -> str:
    return f"{month:%m/%Y}" if month else ""


def attachment_stem(market: str, lot_number: str | None, months: Sequence[date]) -> str:
    """``declaration-2026-014-lot-01-2026-10``: the lot and the months, in plain ASCII."""
    lot = f"-lot-{lot_number}" if lot_number else ""
    if not months:
        period = ""
    elif len(months) == 1:
        period = f"-{months[0]:%Y-%m}"
    else:
        period = f"-{min(months):%Y-%m}-a-{max(months):%Y-%m}"
    raw = f"declaration-{market}{lot}{period}"
    ascii_only = raw.encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_only).strip("-.")[:80] or "declaration"


def build_howto(
    lot: Lot,
    company: str,
    siret: str | None,
    months: Sequence[date],
    *,
    due_day: int,
    participants: int = 0,
    attached: bool = True,
    due_dates: Mapping[date, date] | None = None,
) -> dict[str, Any]:
    """The ``declaration_howto`` context: columns with what goes in each, accepted values, the
    months concerned and, when ``attached``, the names of the templates ``build_attachments``
    writes for the same lot and months; pure.

    ``due_dates``: the date each month is really due when it is not the scheduled one (the
    due date a catch-up call gives, ``expected_due_dates``); the scheduled date otherwise."""
    due_dates = due_dates or {}
    prefilled = {
        "siret": spaced_siret(siret),
        "company": company,
        "market": lot.market,
        "lot": lot.lot_number or "",
        "month": ", ".join(month_cell(m) for m in months),
    }
    columns = []
    for column in DECLARATION_COLUMNS:
        # A company recorded without a SIRET gets a template whose cell is empty: it is told
        # that the cell may stay so, not asked for 14 digits it would think it must type.
        no_siret = column.key == "siret" and not siret
        hint = SIRET_UNKNOWN_HINT if no_siret else column.hint
        meaning = hint.format(
            market=f"le numéro du marché, {lot.market}",
            lot=f"le numéro du lot, {lot.lot_number}"
            if lot.lot_number
            else "le numéro du lot (à laisser vide : le marché n'a qu'un lot)",
        )
        columns.append(
            {
                "title": column.label,
                "meaning": meaning,
                # Optional for the import when known otherwise (--clause, a known participant);
                # a company is asked for them all the same.
                "required": (column.required and not no_siret)
                or column.key in ("market", "lot", "criterion"),
                "value": prefilled.get(column.key) or None,
            }
        )
    stem = attachment_stem(lot.market, lot.lot_number, months)
    return {
        "titles": declaration_titles(),
        "columns": columns,
        "criteria": list(CRITERION_LABELS.values()),
        "contract_types": list(CONTRACT_LABELS.values()),
        "delivery_modes": list(DELIVERY_MODE_LABELS.values()),
        "months": [
            {
                "month": m,
                "opens_on": opens_on(m),
                "due_on": due_dates.get(m) or due_date(m, due_day),
            }
            for m in months
        ],
        "participants": participants,
        "attachments": [
            {"filename": f"{stem}.{extension}", "format": name}
            for extension, name in (("csv", "CSV pour Excel"), ("xlsx", "classeur Excel"))
        ]
        if attached
        else [],
    }
