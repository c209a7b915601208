"""The templates' compiled code is shared by the environments of a process, never stale."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader

from tests.unit.test_templates import ALL_KINDS, SIGNATURE, sample
from tests.unit.test_templates import settings as settings
from workflow.adapters import compiled_templates
from workflow.adapters.compiled_templates import CompiledTemplates
from workflow.adapters.templates import TemplateRenderer
from workflow.settings import Settings


def environment(folder: Path, cache: CompiledTemplates) -> Environment:
    return Environment(loader=FileSystemLoader(str(folder)), bytecode_cache=cache)


def test_a_second_environment_reuses_the_code_and_an_edited_file_is_compiled_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = tmp_path / "page.txt"
    page.write_text("Bonjour {{ name }}", encoding="utf-8")
    cache = CompiledTemplates()
    compiled: list[str] = []
    real = Environment.compile

    def counted(self: Environment, source: str, *args: object, **kwargs: object) -> object:
        compiled.append(source)
        return real(self, source, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Environment, "compile", counted)
    assert environment(tmp_path, cache).get_template("page.txt").render(name="Léa") == (
        "Bonjour Léa"
    )
    assert environment(tmp_path, cache).get_template("page.txt").render(name="Max") == (
        "Bonjour Max"
    )
    assert compiled == ["Bonjour {{ name }}"]

    page.write_text("Bonsoir {{ name }}", encoding="utf-8")
    assert environment(tmp_path, cache).get_template("page.txt").render(name="Léa") == (
        "Bonsoir Léa"
    )
    assert compiled == ["Bonjour {{ name }}", "Bonsoir {{ name }}"]


def test_every_email_reads_the_same_from_code_compiled_by_another_renderer(
    settings: Settings,
) -> None:
    """The HTML and text environments read their files under other options (autoescape, a
    kept trailing newline): each keeps its own compiled code. Every kind rendered by a renderer
    whose templates were all compiled by another, earlier one is the same email, to the byte."""
    for cache in (compiled_templates.EMAIL_HTML, compiled_templates.EMAIL_TEXT):
        cache.clear()
    cold = TemplateRenderer(signature=SIGNATURE)
    first = {kind: cold.render(kind, sample(kind, settings)) for kind in ALL_KINDS}
    warm = TemplateRenderer(signature=SIGNATURE)
    assert {kind: warm.render(kind, sample(kind, settings)) for kind in ALL_KINDS} == first
    # Shared, not compiled again: the second renderer found each template's code.
    assert compiled_templates.EMAIL_HTML._codes and compiled_templates.EMAIL_TEXT._codes
