"""The one place configuration is read: environment (``CLAUSES_*``), ``.env``, then a TOML file.

A bad setting stops start-up with one French line naming the setting and what it accepts
(``load_settings`` turns pydantic's report into ``SettingsInvalid``).
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from workflow.adapters.mail.message import check_address, mailbox_from_setting
from workflow.domain.calendar import CalendarRules
from workflow.domain.outcomes import outcome_groups_problem
from workflow.domain.privacy import RETENTION_EXAMPLES, Retention, parse_retention
from workflow.domain.stages import FINAL_STAGES, Stage
from workflow.errors import SettingsInvalid

CONFIG_FILE_ENV = "CLAUSES_CONFIG"


def _config_file() -> Path | None:
    raw = os.environ.get(CONFIG_FILE_ENV)
    if raw:
        return Path(raw)
    default = Path("config/clauses.toml")
    return default if default.exists() else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CLAUSES_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        secrets_dir=os.environ.get("CLAUSES_SECRETS_DIR") or None,
    )

    database_url: str = "sqlite:///var/clauses.db"
    timezone: str = "Europe/Paris"
    base_url: str = "http://localhost:8000"
    # The web pages (``clauses web``, and ``clauses serve`` unless --no-web) listen here; behind a
    # reverse proxy, ``base_url`` is the address people reach (README, « Le site web »).
    web_host: str = "127.0.0.1"
    # 0: any free port, the one taken is logged (``web.started``): what tests use.
    web_port: int = Field(default=8000, ge=0, le=65535)
    # The key that signs companies' declaration links; unset, the service makes one and keeps it
    # in the database, so every instance sharing it signs alike. Changing it voids the links sent.
    link_secret: SecretStr | None = None
    # Days a declaration link stays valid after the email that carries it.
    link_days: int = Field(default=60, ge=1, le=366)
    # Hours a dashboard session lasts without use.
    web_session_hours: int = Field(default=8, ge=1, le=24 * 30)

    facilitator_name: str = "Camille Martin"
    facilitator_organisation: str = "Maison de l'emploi de l'Exemple"
    facilitator_email: str = "clauses@example.org"
    facilitator_phone: str = "05 62 00 00 00"
    facilitator_title: str = "Facilitatrice des clauses sociales"
    facilitator_signature: str = ""

    mail_transport: Literal["file", "smtp"] = "file"
    mail_dir: Path = Path("var/mail")
    mail_from: str = "clauses@example.org"
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout: float = Field(default=30.0, gt=0)
    # The wait for the reply after the final dot: RFC 5321 (4.5.3.2.6) asks for 10 minutes, since
    # the server may scan the message first; a shorter one makes accepted mail look lost.
    smtp_data_timeout: float = Field(default=600.0, gt=0)
    # A message whose claim expired while it was on the wire may have been delivered: "ask" leaves
    # it for the facilitator (« clauses mail retry N° »), "resend" sends it again (maybe twice).
    uncertain_mail: Literal["ask", "resend"] = "ask"
    # How long (seconds, on the real clock) a dispatcher owns the rows it claimed before another
    # instance may take them over. It must outlast one send (connection plus final-dot timeouts).
    mail_lease: int = Field(default=1200, ge=1)
    # PostgreSQL: the longest (seconds) one of the dispatcher's own short statements (claim,
    # fence, outcomes, giving rows back) may run, and of that the longest it may wait for a lock
    # another connection holds; past it the statement fails, the pass with it, and the rows not
    # handed to the server go back to the queue. Reports and imports are not bounded by them.
    mail_db_timeout: float = Field(default=30.0, gt=0, le=3600)
    mail_db_lock_timeout: float = Field(default=10.0, gt=0, le=3600)
    # PostgreSQL: TCP keepalives on every connection (seconds of silence before the first probe,
    # seconds between probes, probes unanswered), so that a server out of reach (network cut,
    # machine gone) fails the connection after about idle + interval × count seconds, not after
    # the system's two hours and more (libpq's default).
    db_keepalives_idle: int = Field(default=30, ge=1, le=7200)
    db_keepalives_interval: int = Field(default=10, ge=1, le=600)
    db_keepalives_count: int = Field(default=3, ge=1, le=100)

    # The declaration calendar's defaults; buyers and lots may override the first three.
    declaration_due_day: int = Field(default=10, ge=1, le=28)
    reminder_offsets: str = "3,7"
    escalation_offset: int = Field(default=15, ge=1, le=60)
    call_time: time = time(9, 0)
    digest_time: time = time(8, 0)
    summary_time: time = time(7, 0)
    # Working days after the general due date at which the monthly summary leaves; None: the
    # working day after the last reminder (largest reminder offset + 1), see summary_delay_days.
    summary_delay: int | None = None
    # Days a clause may wait in a stage before the digest mentions it.
    stage_wait_days: dict[str, int] = Field(
        default_factory=lambda: {"identification": 60, "drafting": 90, "award": 45}
    )
    # Outcome type code -> reporting group code, over the documented default mapping.
    outcome_groups: dict[str, str] = Field(default_factory=dict)
    # How long a participant's personal data is kept once their last clause is over (README,
    # « Données personnelles (RGPD) »): « 5a » (5 ans), « 5y », « 18m », « 18mois »; a bare
    # number counts in years. ``clauses privacy purge`` removes what is older.
    privacy_retention: str = "5a"

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> Settings:
        # A send may start from a fence a third of the lease old (dispatch.py), and the SMTP
        # timeout applies to each command (MAIL, RCPT per recipient, DATA): the lease must cover
        # four commands and the final dot from two thirds of itself.
        longest = 4 * self.smtp_timeout + self.smtp_data_timeout
        if self.mail_transport == "smtp" and self.mail_lease * 2 / 3 <= longest:
            raise ValueError(
                f"CLAUSES_MAIL_LEASE ({self.mail_lease} s) trop court : il doit dépasser une fois "
                f"et demie l'envoi le plus long, 4 × CLAUSES_SMTP_TIMEOUT + "
                f"CLAUSES_SMTP_DATA_TIMEOUT ({longest:g} s), soit plus de {longest * 1.5:g} s ; "
                "sinon une autre instance reprendrait un courriel encore en cours d'envoi."
            )
        return self

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("fuseau horaire IANA attendu, par exemple Europe/Paris") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            backend = None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(
                "sqlite:///chemin/vers/fichier.db ou postgresql://utilisateur@hôte:5432/base attendu"
            )
        return value

    @field_validator("facilitator_email")
    @classmethod
    def _facilitator_address(cls, value: str) -> str:
        return check_address(value)  # it goes into Reply-To and receives the digest

    @field_validator("mail_from")
    @classmethod
    def _sender(cls, value: str) -> str:
        if "<" in value:  # « Nom <adresse> »
            mailbox_from_setting(value, "")
        else:
            check_address(value)
        return value

    @field_validator("stage_wait_days")
    @classmethod
    def _stages(cls, value: dict[str, int]) -> dict[str, int]:
        known = tuple(stage.value for stage in Stage if stage not in FINAL_STAGES)
        for stage, days in value.items():
            if stage not in known:
                raise ValueError(
                    f"étape « {stage} » inconnue : étapes possibles {', '.join(known)}"
                )
            if days < 0:
                raise ValueError(f"{days} jours pour « {stage} » : 0 (jamais) ou plus attendu")
        return value

    @field_validator("outcome_groups")
    @classmethod
    def _outcome_groups(cls, value: dict[str, str]) -> dict[str, str]:
        # A mistyped code would otherwise silently leave the default group in every report.
        problem = outcome_groups_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("escalation_offset")
    @classmethod
    def _escalation_after_reminders(cls, value: int, info: ValidationInfo) -> int:
        # A reminder on or after the escalation day would never go out (the ladder stops there),
        # and every buyer and lot without a calendar of its own would inherit the contradiction.
        offsets = info.data.get("reminder_offsets")
        if offsets is not None and max(parse_offsets(offsets)) >= value:
            raise ValueError(
                f"l'alerte doit venir après le dernier rappel (CLAUSES_REMINDER_OFFSETS = "
                f"{offsets}) : plus de {max(parse_offsets(offsets))} jours ouvrés attendu"
            )
        return value

    @field_validator("summary_delay")
    @classmethod
    def _summary_after_due_date(cls, value: int | None) -> int | None:
        # 0 would compile the summary on the due day itself, before that day's declarations.
        if value is not None and not 1 <= value <= 60:
            raise ValueError(
                "nombre de jours ouvrés après la date limite de déclaration attendu, de 1 à 60 "
                "(sans réglage : le jour ouvré qui suit la dernière relance)"
            )
        return value

    @field_validator("reminder_offsets")
    @classmethod
    def _offsets(cls, value: str) -> str:
        parse_offsets(value)
        return value

    @field_validator("privacy_retention", mode="before")
    @classmethod
    def _retention(cls, value: object) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # « privacy_retention = 5 » in the TOML file: years
        if not isinstance(value, str):
            raise ValueError(f"durée attendue, {RETENTION_EXAMPLES}")
        parse_retention(value)
        return value

    @property
    def signature(self) -> dict[str, str]:
        """What the email layouts print under every message."""
        return {
            "name": self.facilitator_name,
            "title": self.facilitator_title,
            "organisation": self.facilitator_organisation,
            "email": self.facilitator_email,
            "phone": self.facilitator_phone,
            "extra": self.facilitator_signature,
        }

    @property
    def retention(self) -> Retention:
        """``privacy_retention`` as a duration."""
        return parse_retention(self.privacy_retention)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def reminder_offset_list(self) -> tuple[int, ...]:
        return parse_offsets(self.reminder_offsets)

    @property
    def calendar_rules(self) -> CalendarRules:
        """The service's own rhythm, before any buyer's or lot's override (``resolve_rules``)."""
        return CalendarRules(
            due_day=self.declaration_due_day,
            reminder_offsets=self.reminder_offset_list,
            escalation_offset=self.escalation_offset,
            call_time=self.call_time,
        )

    @property
    def summary_delay_days(self) -> int:
        """Working days from the due date to the monthly summary: the setting, else the working
        day after the last reminder of the general calendar."""
        if self.summary_delay is not None:
            return self.summary_delay
        return max(self.reminder_offset_list) + 1

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            env_settings,
            dotenv_settings,
            file_secret_settings,
        ]
        toml = _config_file()
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)


def parse_offsets(value: str) -> tuple[int, ...]:
    """``"3,7"`` -> (3, 7): working days after the due date at which reminders go out."""
    try:
        offsets = tuple(int(part) for part in value.replace(" ", "").split(",") if part)
    except ValueError:
        raise ValueError("liste de jours ouvrés attendue, par exemple 3,7") from None
    if not offsets or any(o < 1 for o in offsets) or list(offsets) != sorted(set(offsets)):
        raise ValueError("jours ouvrés croissants et positifs attendus, par exemple 3,7")
    return offsets


_FRENCH_ERRORS: dict[str, str] = {
    "literal_error": "valeurs acceptées : {expected}",
    "int_parsing": "nombre entier attendu",
    "float_parsing": "nombre attendu",
    "bool_parsing": "true ou false attendu",
    "time_parsing": "heure attendue au format HH:MM",
    "greater_than_equal": "doit être supérieur ou égal à {ge}",
    "greater_than": "doit être strictement supérieur à {gt}",
    "less_than_equal": "doit être inférieur ou égal à {le}",
    "string_type": "texte attendu",
    "dict_type": "table attendue (par exemple {{identification = 60}})",
}


def _french(error: Any) -> str:
    template = _FRENCH_ERRORS.get(error["type"])
    if template is None:
        return str(error["msg"]).removeprefix("Value error, ")
    context = dict(error.get("ctx") or {})
    if "expected" in context:
        # pydantic writes "'none', 'starttls' or 'tls'": keep the values, drop the English "or".
        context["expected"] = ", ".join(re.findall(r"'([^']*)'", str(context["expected"])))
    return template.format(**context)


#: Settings whose value never appears in an error message, a log line or an email.
SECRET_SETTINGS = frozenset({"smtp_password"})
_URL_PASSWORD = re.compile(r"(://[^:/@]*:).*@")  # up to the last @: hides too much, never less


def _shown(name: str, value: Any) -> str:
    """The refused value as the error shows it: a password stays hidden, even one inside a
    database URL the service could not read (``safe_url`` needs a URL it can parse)."""
    if name in SECRET_SETTINGS:
        return "'********'"
    if name == "database_url" and isinstance(value, str):
        return repr(_URL_PASSWORD.sub(r"\1***@", value))
    return repr(value)


def _secret_files() -> dict[str, str]:
    """``CLAUSES_SMTP_PASSWORD_FILE=/run/secrets/smtp`` reads the secret from that file."""
    values: dict[str, str] = {}
    for name, path in os.environ.items():
        if not (name.startswith("CLAUSES_") and name.endswith("_FILE")):
            continue
        field = name.removeprefix("CLAUSES_").removesuffix("_FILE").lower()
        if field not in Settings.model_fields:
            continue
        try:
            values[field] = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsInvalid(
                f"Réglage invalide {name} = {path!r} : fichier illisible ({exc.strerror})"
            ) from None
    return values


def load_settings(**overrides: Any) -> Settings:
    """Build the settings or raise ``SettingsInvalid`` with one line per bad setting."""
    try:
        return Settings(**{**_secret_files(), **overrides})
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            if not error["loc"]:  # a rule between settings: its message names them
                lines.append(f"Réglages incompatibles : {_french(error)}")
                continue
            name = "_".join(str(part) for part in error["loc"])
            shown = _shown(name, error.get("input"))
            lines.append(f"Réglage invalide CLAUSES_{name.upper()} = {shown} : {_french(error)}")
        raise SettingsInvalid("\n".join(lines)) from None
    except SettingsError as exc:
        # Raised before validation when a table-valued setting is not JSON (environment, .env).
        field = re.search(r'field "([a-z_]+)"', str(exc))
        name = f"CLAUSES_{field.group(1).upper()}" if field else "?"
        raise SettingsInvalid(
            f"Réglage invalide {name} : JSON attendu, par exemple "
            '{"identification": 60, "drafting": 90, "award": 45}'
        ) from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib says "Illegal character '\n' (at line 2, column 22)": keep the place, in French.
        what, _, where = str(exc).partition(" (at line ")
        line, _, column = where.rstrip(")").partition(", column ")
        place = f" à la ligne {line}, colonne {column}" if column else ""
        raise SettingsInvalid(
            f"Fichier de configuration {_config_file()} mal formé{place} ({what})"
        ) from None
    except OSError as exc:
        raise SettingsInvalid(f"Fichier de configuration illisible : {exc}") from None
