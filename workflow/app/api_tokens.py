"""The JSON API's bearer tokens: made, listed and revoked from the command line, read by the API."""

from __future__ import annotations

from workflow.app.unit import reading, unit_of_work
from workflow.bootstrap import App
from workflow.services import api_tokens as tokens
from workflow.services.api_tokens import ApiClient, TokenView

__all__ = ["ApiClient", "TokenView", "client_of", "create_token", "list_tokens", "revoke_token"]


def create_token(app: App, *, name: str, read_only: bool) -> tuple[str, TokenView]:
    with unit_of_work(app) as unit:
        return tokens.create_token(unit.session, name=name, read_only=read_only, now=unit.now)


def list_tokens(app: App) -> tuple[TokenView, ...]:
    with reading(app) as session:
        return tuple(tokens.list_tokens(session))


def revoke_token(app: App, *, name: str) -> TokenView:
    with unit_of_work(app) as unit:
        return tokens.revoke_token(unit.session, name=name, now=unit.now)


def client_of(app: App, token: str | None) -> ApiClient | None:
    if not token:
        return None
    with unit_of_work(app) as unit:
        return tokens.client_of(unit.session, token, now=unit.now)
