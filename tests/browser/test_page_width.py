"""Every HTML email kind and the HTML summary, in Chromium at 600 px: nothing wider than the window.

An email is read in a reading pane or on a phone; a page wider than the window is cut or scrolled
sideways, and a table cut at its right edge hides the very figures it was sent for. Each page is
loaded at a 600 px viewport and fails if the document scrolls sideways or any element reaches past
the window's edge (or hides content in a box narrower than it). A screenshot of each is kept.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.browser.conftest import WINDOW_WIDTH, Chromium
from tests.conftest import Clock, make_settings
from tests.integration import summary_dataset
from workflow.adapters.templates import TemplateRenderer
from workflow.bootstrap import bootstrap
from workflow.emails import registry
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.settings import Settings

#: Looks at the laid-out page: the document's width and every box reaching past the window.
MEASURE = """
(limit) => {
  const describe = (el, r) => {
    const name = el.tagName.toLowerCase() + (el.className && typeof el.className === 'string'
      ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
    const text = (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 60);
    return `${name} [${Math.round(r.left)}–${Math.round(r.right)} px] « ${text} »`;
  };
  const overflowing = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > limit + 0.5 || r.left < -0.5) {
      overflowing.push(describe(el, r));
      continue;
    }
    const style = getComputedStyle(el);
    if (style.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1) {
      overflowing.push(describe(el, r) + ' (contenu coupé ou défilant)');
    }
  }
  return {
    scrollWidth: document.documentElement.scrollWidth,
    bodyText: document.body.innerText,
    overflowing: overflowing,
  };
}
"""

#: Every kind with a template; the previews offer a sample context for each.
KINDS = sorted(TemplateRenderer().kinds())


def measure(
    chromium: Chromium, shot: Path, *, html: str | None = None, url: str | None = None
) -> dict[str, Any]:
    """Load ``html`` (or ``url``) at 600 px, keep a screenshot, measure the laid-out page."""

    def at_page(page: Any) -> dict[str, Any]:
        if html is not None:
            page.set_content(html)
        else:
            page.goto(url)
        page.screenshot(path=str(shot), full_page=True)
        result: dict[str, Any] = page.evaluate(MEASURE, WINDOW_WIDTH)
        result["h1"] = page.inner_text("h1") if page.locator("h1").count() else ""
        result["svgs"] = page.locator("svg").count()
        return result

    return chromium.look(at_page)


def assert_fits(result: dict[str, Any], what: str, shot: Path) -> None:
    width = result["scrollWidth"]
    boxes = "\n  ".join(result["overflowing"][:12])
    assert width <= WINDOW_WIDTH and not result["overflowing"], (
        f"{what} is {width} px wide in a {WINDOW_WIDTH} px window (screenshot: {shot}); "
        f"boxes past the edge:\n  {boxes}"
    )


@pytest.fixture(scope="module")
def renderer() -> TemplateRenderer:
    return TemplateRenderer(
        signature={
            "name": "Camille Martin",
            "title": "Facilitatrice des clauses sociales",
            "organisation": "Maison de l'emploi de l'Exemple",
            "email": "camille.martin@example.org",
            "phone": "05 62 00 00 00",
            "extra": "",
        }
    )


def sample_context(kind: str, settings: Settings) -> dict[str, Any]:
    return dict(registry.sample(kind, settings).context)


def test_it_covers_every_kind_of_email() -> None:
    assert len(KINDS) >= 17
    assert {"monthly_summary", "notice_awarded", "declaration_call"} <= set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_the_email_fits_a_600_px_window(
    kind: str, renderer: TemplateRenderer, chromium: Chromium, screenshots: Path
) -> None:
    rendered = renderer.render(kind, sample_context(kind, Settings()))
    shot = screenshots / f"{kind}.png"
    result = measure(chromium, shot, html=rendered.html)
    # The page shown is the email: its title and its signature are on screen.
    assert result["h1"].strip()
    assert "Camille Martin" in result["bodyText"]
    assert_fits(result, f"The {kind} email", shot)


def test_the_html_summary_fits_a_600_px_window(
    tmp_path: Path, sqlite_url: str, clock: Clock, chromium: Chromium, screenshots: Path
) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    app = bootstrap(settings, clock=clock)
    try:
        with app.transaction() as session:
            summary_dataset.build(session)
        state = CliState()
        state.factory = lambda: app
        output = tmp_path / "synthese.html"
        result = CliRunner().invoke(
            cli,
            ["summary", "--month", "2026-03", "--format", "html", "--output", str(output)],
            obj=state,
        )
    finally:
        app.close()
    assert result.exit_code == 0, result.output
    shot = screenshots / "summary-html.png"
    measured = measure(chromium, shot, url=output.resolve().as_uri())
    assert "mars 2026" in measured["h1"]
    assert measured["svgs"] >= 1  # the chart is there to be measured too
    assert_fits(measured, "The HTML summary (clauses summary --format html)", shot)


def test_the_check_sees_a_table_wider_than_the_window(
    chromium: Chromium, screenshots: Path
) -> None:
    # The measure itself must be able to fail: a 700 px table is caught, with its text.
    result = measure(
        chromium,
        screenshots / "too-wide.png",
        html='<html><body><table style="width:700px"><tr><td>trop large</td></tr></table></body></html>',
    )
    assert result["scrollWidth"] > WINDOW_WIDTH
    assert any("trop large" in box for box in result["overflowing"])
    result = measure(
        chromium,
        screenshots / "cut.png",
        html='<html><body><div style="width:300px;overflow:hidden">'
        '<p style="width:500px">coupé</p></div></body></html>',
    )
    assert result["scrollWidth"] <= WINDOW_WIDTH
    assert any("contenu coupé" in box for box in result["overflowing"])


def test_the_browser_leaves_the_test_thread_free_for_asyncio(chromium: Chromium) -> None:
    # With the browser started, the rest of the suite still runs its own event loops (the SMTP
    # client, the service): Playwright's loop stays in the browser's thread.
    assert chromium.look(lambda page: page.evaluate("6 * 7")) == 42

    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert asyncio.run(answer()) == 42
