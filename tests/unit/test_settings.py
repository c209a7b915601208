from pathlib import Path

import pytest

from workflow.errors import SettingsInvalid
from workflow.settings import load_settings


def test_it_defaults_to_embedded_sqlite_and_eml_files(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CLAUSES_DATABASE_URL", "CLAUSES_MAIL_TRANSPORT", "CLAUSES_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(Path(__file__).parent)  # no config/clauses.toml here
    settings = load_settings()
    assert settings.database_url == "sqlite:///var/clauses.db"
    assert settings.mail_transport == "file"
    assert settings.timezone == "Europe/Paris"


def test_it_names_the_bad_setting_and_what_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUSES_SMTP_TLS", "ssl")
    with pytest.raises(SettingsInvalid) as refused:
        load_settings()
    assert refused.value.message == (
        "Réglage invalide CLAUSES_SMTP_TLS = 'ssl' : valeurs acceptées : none, starttls, tls"
    )


def test_it_refuses_an_unknown_time_zone_in_french(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUSES_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingsInvalid, match=r"CLAUSES_TIMEZONE .* fuseau horaire IANA"):
        load_settings()


def test_it_reads_the_toml_file_under_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "clauses.toml"
    config.write_text('smtp_port = 2525\nfacilitator_name = "Lucie Robert"\n', encoding="utf-8")
    monkeypatch.setenv("CLAUSES_CONFIG", str(config))
    monkeypatch.setenv("CLAUSES_FACILITATOR_NAME", "Nadia Benali")
    settings = load_settings()
    assert settings.smtp_port == 2525
    assert settings.facilitator_name == "Nadia Benali"


def test_it_reads_a_secret_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "smtp_password"
    secret.write_text("s3cret\n", encoding="utf-8")
    monkeypatch.setenv("CLAUSES_SMTP_PASSWORD_FILE", str(secret))
    settings = load_settings()
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == "s3cret"


def test_the_example_config_file_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "clauses.example.toml"
    monkeypatch.setenv("CLAUSES_CONFIG", str(example))
    settings = load_settings()
    assert settings.smtp_tls == "starttls"
    assert settings.stage_wait_days["award"] == 45


def test_a_table_setting_that_is_not_json_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUSES_STAGE_WAIT_DAYS", "identification=60")
    with pytest.raises(SettingsInvalid, match=r"^Réglage invalide CLAUSES_STAGE_WAIT_DAYS : JSON"):
        load_settings()


def test_a_malformed_config_file_is_named_with_its_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "clauses.toml"
    config.write_text('timezone = "Europe/Paris"\nbase_url = "https://x\n', encoding="utf-8")
    monkeypatch.setenv("CLAUSES_CONFIG", str(config))
    with pytest.raises(SettingsInvalid) as refused:
        load_settings()
    assert refused.value.message.startswith(
        f"Fichier de configuration {config} mal formé à la ligne 2, colonne"
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("CLAUSES_DATABASE_URL", "foo://x", "sqlite:///chemin/vers/fichier.db ou postgresql://"),
        (
            "CLAUSES_DATABASE_URL",
            "pas une url",
            "sqlite:///chemin/vers/fichier.db ou postgresql://",
        ),
        ("CLAUSES_FACILITATOR_EMAIL", "nope", "adresse électronique invalide : « nope »"),
        ("CLAUSES_MAIL_FROM", "not an email", "adresse électronique invalide : « not an email »"),
        ("CLAUSES_MAIL_FROM", "Clauses <pas-d-arobase>", "adresse électronique invalide"),
        ("CLAUSES_STAGE_WAIT_DAYS", '{"foo": 3}', "étape « foo » inconnue"),
        ("CLAUSES_STAGE_WAIT_DAYS", '{"award": -1}', "0 (jamais) ou plus attendu"),
        ("CLAUSES_ESCALATION_OFFSET", "2", "l'alerte doit venir après le dernier rappel"),
    ],
)
def test_settings_that_would_fail_later_are_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsInvalid) as refused:
        load_settings()
    assert refused.value.message.startswith(f"Réglage invalide {name} = ")
    assert expected in refused.value.message


def test_a_named_sender_and_a_postgresql_url_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUSES_MAIL_FROM", "Clauses sociales <clauses@example.org>")
    monkeypatch.setenv("CLAUSES_DATABASE_URL", "postgresql+psycopg://u:p@db.example.org:5432/c")
    settings = load_settings()
    assert settings.mail_from.endswith("<clauses@example.org>")


def test_reminders_reaching_the_escalation_day_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUSES_REMINDER_OFFSETS", "3,20")
    with pytest.raises(SettingsInvalid) as refused:
        load_settings()
    assert "CLAUSES_ESCALATION_OFFSET = 15" in refused.value.message
    assert "CLAUSES_REMINDER_OFFSETS = 3,20" in refused.value.message
