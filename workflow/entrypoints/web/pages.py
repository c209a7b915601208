"""Rendering the pages of ``templates/web/``: one Jinja2 environment with the French filters,
and what every page shows (the site's name, the facilitator's contact)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from workflow.adapters.compiled_templates import WEB_PAGES
from workflow.adapters.templates import (
    french_date,
    french_hours,
    french_month,
    french_number,
    templates_root,
)
from workflow.bootstrap import App
from workflow.emails.phrases import french_day, month_phrase

SITE_NAME = "Clauses sociales d'insertion"


def web_folder() -> Path:
    return templates_root() / "web"


def hours_field(value: Decimal | None) -> str:
    """Hours as a French form shows them: ``151,5`` (no unit, no thousands separator)."""
    if value is None:
        return ""
    text = f"{value.normalize():f}"
    return text.replace(".", ",")


def environment(zone: ZoneInfo) -> Environment:
    """The pages' environment; an instant is dated on ``zone``'s calendar (a declaration
    recorded at 00:30 in Paris was recorded that day, not the day before as UTC says)."""

    def local_date_text(value: date | datetime, pattern: str = "d MMMM y") -> str:
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone(zone)
        return french_date(value, pattern)

    env = Environment(
        loader=FileSystemLoader(web_folder()),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=WEB_PAGES,
    )
    env.filters.update(
        date=local_date_text,
        day=french_day,
        month=french_month,
        month_phrase=month_phrase,
        hours=french_hours,
        hours_field=hours_field,
        number=french_number,
    )
    return env


class Pages:
    """Renders a page of ``templates/web/`` with what every page shows (the facilitator)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.env = environment(app.settings.zone)

    def render(
        self, request: Request, name: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        settings = self.app.settings
        facilitator = {
            "name": settings.facilitator_name,
            "title": settings.facilitator_title,
            "organisation": settings.facilitator_organisation,
            "email": settings.facilitator_email,
            "phone": settings.facilitator_phone,
        }
        if "user" not in context:
            # The user ``Guard.user_of`` found for this request, if any: an error page behind
            # the login keeps the navigation (a company's page never has a session).
            context["user"] = getattr(request.state, "signed_in", None)
        html = self.env.get_template(name).render(
            site_name=SITE_NAME, facilitator=facilitator, request=request, **context
        )
        return HTMLResponse(html, status_code=status_code)
