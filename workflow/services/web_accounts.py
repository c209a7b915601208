"""The facilitator's web accounts: users, their sessions and the login attempts that failed.

A session is a random token in an HttpOnly cookie; the database keeps only its SHA-256, so a
copy of the database opens no session. Each session has its own CSRF token for the forms. It ends
after ``settings.web_session_hours`` without use. Failed logins are counted per login over a
window, in the database (so every instance counts the same): past the limit, even the right
password is refused until the window has passed. That window is real time (the App's
``wall_clock``), never the clock ``clauses web --now`` freezes: frozen, a lockout would never end.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from workflow.adapters.orm import LoginFailure, WebSession, WebUser
from workflow.adapters.passwords import (
    hash_password,
    needs_rehash,
    password_matches,
    token_digest,
)
from workflow.domain.events import require_aware
from workflow.errors import InputRefused, NotFound

#: Failed attempts allowed per login within ``FAILURE_WINDOW``.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
PASSWORD_MIN = 12
LOGIN_MAX = 60


class LoginRefused(InputRefused):
    """Identifiant ou mot de passe incorrect."""


@dataclass(frozen=True)
class SignedIn:
    """Who a session belongs to, and the CSRF token its forms carry."""

    user_id: int
    login: str
    name: str
    csrf: str


def _clean_login(login: str) -> str:
    cleaned = login.strip().lower()
    if not cleaned or len(cleaned) > LOGIN_MAX or any(c.isspace() for c in cleaned):
        raise InputRefused(
            f"Identifiant « {login} » refusé : un mot sans espace, {LOGIN_MAX} caractères au plus."
        )
    return cleaned


def _password_problem(password: str) -> str | None:
    if len(password) < PASSWORD_MIN:
        return f"Mot de passe trop court : {PASSWORD_MIN} caractères au moins."
    return None


def add_user(session: Session, *, login: str, name: str, password: str, now: datetime) -> WebUser:
    require_aware(now)
    login = _clean_login(login)
    if not name.strip():
        raise InputRefused("Nom vide : il signe les actions faites depuis le tableau de bord.")
    if problem := _password_problem(password):
        raise InputRefused(problem)
    if session.scalar(select(WebUser.id).where(WebUser.login == login)) is not None:
        raise InputRefused(f"L'identifiant « {login} » existe déjà (« clauses user passwd »).")
    user = WebUser(
        login=login, name=" ".join(name.split()), password_hash=hash_password(password),
        created_at=now,
    )  # fmt: skip
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, *, login: str, password: str, now: datetime) -> WebUser:
    """A new password; every open session of that user ends."""
    require_aware(now)
    user = session.scalar(select(WebUser).where(WebUser.login == _clean_login(login)))
    if user is None:
        raise NotFound(f"Aucun utilisateur « {login} » (« clauses user add »).")
    if problem := _password_problem(password):
        raise InputRefused(problem)
    user.password_hash = hash_password(password)
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    return user


def recent_failures(session: Session, login: str, at: datetime) -> int:
    """The failures of ``login`` within ``FAILURE_WINDOW`` before ``at`` (real time)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.login == login, LoginFailure.at > at - FAILURE_WINDOW)
        )
        or 0
    )


def authenticate(session: Session, *, login: str, password: str, at: datetime) -> WebUser | None:
    """The user whose password this is, or None (the failure is added to the session: the
    caller commits it, then refuses with ``LoginRefused``, the same words whether the login
    exists or not). Past ``MAX_FAILURES`` recent failures, ``LoginRefused`` at once, whatever
    the password.

    ``at`` is the real instant of the attempt (the wall clock), not the App's clock: the failures
    are dated and counted by it, so a lockout ends after the window however the clock is set."""
    require_aware(at)
    key = login.strip().lower()[:LOGIN_MAX]
    if recent_failures(session, key, at) >= MAX_FAILURES:
        minutes = int(FAILURE_WINDOW.total_seconds() // 60)
        raise LoginRefused(
            f"Trop de tentatives de connexion pour cet identifiant : réessayez dans {minutes} "
            "minutes."
        )
    user = session.scalar(select(WebUser).where(WebUser.login == key))
    if (
        user is None
        or user.disabled_at is not None
        or not password_matches(user.password_hash, password)
    ):
        session.add(LoginFailure(login=key, at=at))
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def open_session(session: Session, user: WebUser, *, now: datetime, hours: int) -> tuple[str, str]:
    """A new session for ``user``: its cookie token and its CSRF token."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id=token_digest(token), user_id=user.id, csrf=csrf, created_at=now, last_seen_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )  # fmt: skip
    session.flush()
    return token, csrf


def signed_in(session: Session, token: str, *, now: datetime, hours: int) -> SignedIn | None:
    """The session of this cookie if it is still open (its expiry slides with use)."""
    if not token:
        return None
    found = session.get(WebSession, token_digest(token))
    if found is None or found.expires_at <= now:
        return None
    user = session.get(WebUser, found.user_id)
    if user is None or user.disabled_at is not None:
        return None
    found.last_seen_at = now
    found.expires_at = now + timedelta(hours=hours)
    return SignedIn(user_id=user.id, login=user.login, name=user.name, csrf=found.csrf)


def close_session(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id == token_digest(token)))
