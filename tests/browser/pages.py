"""What the browser tests of the signed-in pages share: the account's password, signing in, and
the look at a page (axe-core's serious problems, a screenshot at each width, no page wider than
its window)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import axe_playwright_python

PASSWORD = "un mot de passe assez long"
AXE = Path(axe_playwright_python.__file__).parent / "axe.min.js"
#: A desk's screen and a phone's.
WIDTHS = (1280, 390)
#: The width a test works at between two looks.
DESK = {"width": 1280, "height": 900}


def serious_violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} – {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def title_of(page: Any) -> str:
    """The title of the page a click just opened. The click returns once the new page has
    started to arrive, before its ``<title>`` may have been read (the title is then empty)."""
    page.wait_for_load_state("load")
    return str(page.title())


def sign_in(page: Any, address: str, login: str = "lea") -> None:
    """Open ``address`` (the login page, or a page behind it) and sign in as ``login``."""
    page.set_viewport_size(DESK)
    page.goto(address)
    page.get_by_label("Identifiant").fill(login)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def looker(prefix: str) -> Callable[[Any, str, Path], list[str]]:
    """``look_at(page, name, folder)`` for one test file, its screenshots named
    ``<prefix>-<name>-<width>.png``."""

    def look_at(page: Any, name: str, folder: Path) -> list[str]:
        """axe-core's serious problems of the page, and its screenshots at each width."""
        page.wait_for_load_state("load")  # a page a click opened may still be arriving
        problems = [f"{name}: {p}" for p in serious_violations(page)]
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(folder / f"{prefix}-{name}-{width}.png"), full_page=True)
            wider = page.evaluate("() => document.documentElement.scrollWidth")
            if wider > width:
                problems.append(f"{name} at {width} px: the page is {wider} px wide")
        page.set_viewport_size(DESK)
        return problems

    return look_at
