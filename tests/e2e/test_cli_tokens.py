"""``clauses token create|list|revoke``: the JSON API's bearer tokens from the command line."""

from __future__ import annotations

import re

from tests.e2e.conftest import Invoke


def test_a_token_is_shown_once_listed_without_its_secret_then_revoked(run: Invoke) -> None:
    made = run("token", "create", "--name", "Logiciel du PLIE", "--read-only")
    assert made.exit_code == 0, made.output
    [token] = re.findall(r"clauses_[A-Za-z0-9_-]{20,}", made.stdout)
    assert "Jeton « Logiciel du PLIE » créé (lecture seule)" in made.stdout

    listed = run("token", "list")
    assert "Logiciel du PLIE" in listed.stdout and "lecture seule" in listed.stdout
    assert token not in listed.stdout and "actif" in listed.stdout

    again = run("token", "create", "--name", "Logiciel du PLIE")
    assert again.exit_code == 1 and "déjà actif" in again.stderr
    revoked = run("token", "revoke", "Logiciel du PLIE")
    assert revoked.exit_code == 0 and "révoqué" in revoked.stdout
    assert "révoqué le" in run("token", "list").stdout
    unknown = run("token", "revoke", "Personne")
    assert unknown.exit_code == 1 and "Aucun jeton actif « Personne »" in unknown.stderr
