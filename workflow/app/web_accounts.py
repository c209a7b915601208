"""The facilitator's web accounts: ``clauses user add|passwd`` and the dashboard's login.

Every dashboard action runs with the signed-in user's name as its actor, so the history says who
did it from the browser as it does for the command line.
"""

from __future__ import annotations

from dataclasses import dataclass

from workflow.app.unit import unit_of_work
from workflow.bootstrap import App
from workflow.services import web_accounts as accounts
from workflow.services.web_accounts import LoginRefused, SignedIn

__all__ = [
    "LoginRefused",
    "Opened",
    "SignedIn",
    "add_user",
    "change_password",
    "log_in",
    "log_out",
    "signed_in",
]


@dataclass(frozen=True)
class Opened:
    token: str  # for the cookie only: the database keeps its digest
    user: SignedIn


def add_user(app: App, *, login: str, name: str, password: str) -> str:
    """A new account; its login as stored (lower case)."""
    with unit_of_work(app) as unit:
        return accounts.add_user(
            unit.session, login=login, name=name, password=password, now=unit.now
        ).login


def change_password(app: App, *, login: str, password: str) -> str:
    with unit_of_work(app) as unit:
        return accounts.set_password(
            unit.session, login=login, password=password, now=unit.now
        ).name


def log_in(app: App, *, login: str, password: str) -> Opened:
    """A session for the right password; ``LoginRefused`` otherwise, the failure recorded."""
    with unit_of_work(app) as unit:
        # The lockout counts real time: ``clauses web --now`` freezes ``unit.now``, not this.
        attempt = app.wall_clock()
        user = accounts.authenticate(unit.session, login=login, password=password, at=attempt)
        if user is not None:
            hours = app.settings.web_session_hours
            token, csrf = accounts.open_session(unit.session, user, now=unit.now, hours=hours)
            return Opened(token, SignedIn(user.id, user.login, user.name, csrf))
    # The failure is committed with the block above; only then is the login refused.
    raise LoginRefused()


def signed_in(app: App, token: str | None) -> SignedIn | None:
    if not token:
        return None
    with unit_of_work(app) as unit:
        return accounts.signed_in(
            unit.session, token, now=unit.now, hours=app.settings.web_session_hours
        )


def log_out(app: App, token: str | None) -> None:
    if token:
        with unit_of_work(app) as unit:
            accounts.close_session(unit.session, token)
