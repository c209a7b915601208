"""The digest email with a site (``CLAUSES_BASE_URL`` set): a snapshot of its text part.

The snapshot of ``test_templates`` is the digest without a site, with its commands; this one
is the same sample with the site's words and absolute links instead. Regenerate both with
``UPDATE_SNAPSHOTS=1 pytest tests/unit -k snapshot`` and read the diff.
"""

from __future__ import annotations

import os

# The fixtures of the other snapshots: the same renderer, the same pinned settings.
from tests.unit.test_templates import SNAPSHOTS, pinned, renderer, settings, snapshot_text
from workflow.adapters.templates import TemplateRenderer
from workflow.emails.digest import KIND, sample_digest, web_base
from workflow.settings import Settings

SITE = "https://clauses.exemple.fr"


def with_site(settings: Settings) -> Settings:
    # ``model_construct`` counts the fields given as set, as the environment would.
    values = {name: getattr(settings, name) for name in settings.model_fields_set}
    return Settings.model_construct(**values, base_url=SITE + "/")


def test_the_digest_with_a_site_renders_as_in_its_snapshot(
    renderer: TemplateRenderer, pinned: Settings
) -> None:
    text = snapshot_text(renderer, KIND, with_site(pinned))
    path = SNAPSHOTS / f"{KIND}_site.txt"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), "no snapshot: run UPDATE_SNAPSHOTS=1 pytest tests/unit -k snapshot"
    assert text == path.read_text(encoding="utf-8")


def test_the_site_is_the_base_url_set_never_its_default(pinned: Settings) -> None:
    assert web_base(pinned) is None  # the default http://localhost:8000 reaches no one
    assert web_base(with_site(pinned)) == SITE
    assert all(item.web is not None and item.web.todo for item in sample_digest().items)


__all__ = ["pinned", "renderer", "settings"]  # fixtures, used by name
