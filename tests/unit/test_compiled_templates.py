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


def compilations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sources every environment compiles from now on, in order."""
    compiled: list[str] = []
    real = Environment.compile

    def counted(self: Environment, source: str, *args: object, **kwargs: object) -> object:
        compiled.append(source)
        return real(self, source, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Environment, "compile", counted)
    return compiled


def test_a_second_environment_reuses_the_code_and_an_edited_file_is_compiled_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = tmp_path / "page.txt"
    page.write_text("Bonjour {{ name }}", encoding="utf-8")
    cache = CompiledTemplates()
    compiled = compilations(monkeypatch)
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
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The HTML and text environments read their files under other options (autoescape, a
    kept trailing newline): each keeps its own compiled code. Every kind rendered by a renderer
    whose templates were all compiled by another, earlier one is the same email, to the byte,
    and nothing is compiled again."""
    for cache in (compiled_templates.EMAIL_HTML, compiled_templates.EMAIL_TEXT):
        cache.clear()
    cold = TemplateRenderer(signature=SIGNATURE)
    first = {kind: cold.render(kind, sample(kind, settings)) for kind in ALL_KINDS}
    compiled = compilations(monkeypatch)
    warm = TemplateRenderer(signature=SIGNATURE)
    assert {kind: warm.render(kind, sample(kind, settings)) for kind in ALL_KINDS} == first
    assert compiled == []


def test_environments_of_other_options_never_share_code(tmp_path: Path) -> None:
    """One cache given to two environments that compile a file differently (trim_blocks):
    each runs its own code."""
    (tmp_path / "page.txt").write_text("{% if true %}\noui\n{% endif %}\n", encoding="utf-8")
    cache = CompiledTemplates()
    trimmed = Environment(
        loader=FileSystemLoader(str(tmp_path)), bytecode_cache=cache, trim_blocks=True
    )
    kept = Environment(loader=FileSystemLoader(str(tmp_path)), bytecode_cache=cache)
    assert trimmed.get_template("page.txt").render() == "oui\n"
    assert kept.get_template("page.txt").render() == "\noui\n"
    assert trimmed.get_template("page.txt").render() == "oui\n"
