"""The corrections of the application layer as forms: edit, merge, cancel (/corrections)."""

from __future__ import annotations

from fastapi import APIRouter

from workflow.bootstrap import App
from workflow.entrypoints.web.pages import Pages
from workflow.entrypoints.web.signed_in import Guard


def router(app: App, pages: Pages) -> APIRouter:
    routes = APIRouter()
    guard = Guard(app, pages)
    del guard  # routes to come
    return routes
