"""Headless Chromium for the tests that look at pages as a person would.

The browser is the Debian package ``chromium`` (``/usr/bin/chromium``) driven by Playwright;
Playwright's own browser download is never used. ``CLAUSES_CHROMIUM`` names another executable.
Without one, these tests are skipped with a message saying how to enable them, unless
``CLAUSES_REQUIRE_BROWSER`` is set (``.ci/run`` sets it): CI never skips them.

Playwright's sync API runs an asyncio loop in the thread that starts it and leaves that loop
marked as running between calls: started in pytest's thread, every later ``asyncio.run()`` of
another test in the same process failed ("cannot be called from a running event loop"). So the
browser lives in a thread of its own, and tests hand it the work to do (``Chromium.look``).

Each xdist worker starts its own browser; every look gets a fresh 600 px page, and screenshots go
to the test's own temporary folder, so workers share nothing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

BROWSER_ENV = "CLAUSES_CHROMIUM"
REQUIRE_ENV = "CLAUSES_REQUIRE_BROWSER"
BROWSER_HOWTO = (
    "Browser tests skipped: install Chromium (Debian/Ubuntu: sudo apt-get install chromium) or "
    f"point {BROWSER_ENV} at a Chromium executable; .ci/run always runs them."
)
#: The width a mail client's reading pane or a phone gives an email.
WINDOW_WIDTH = 600
#: The longest a page may take to load and be measured on a loaded CI machine.
LOOK_TIMEOUT = 120


def chromium_path() -> str | None:
    named = os.environ.get(BROWSER_ENV)
    if named:
        return named if Path(named).is_file() else None
    for candidate in ("chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


def _missing(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{reason}, but {REQUIRE_ENV} is set: CI never skips the browser tests")
    pytest.skip(f"{reason}. {BROWSER_HOWTO}")


class Chromium:
    """Headless Chromium on a thread of its own; ``look`` runs a function on a fresh page there."""

    def __init__(self, executable: str) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chromium")
        self._playwright: Any = None
        self._browser: Any = None
        self._thread.submit(self._start, executable).result(timeout=LOOK_TIMEOUT)

    def _start(self, executable: str) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(executable_path=executable, headless=True)

    def look(self, at_page: Callable[[Any], T]) -> T:
        """``at_page(page)`` on a new page ``WINDOW_WIDTH`` px wide, in the browser's thread."""

        def job() -> T:
            context = self._browser.new_context(viewport={"width": WINDOW_WIDTH, "height": 900})
            try:
                return at_page(context.new_page())
            finally:
                context.close()

        return self._thread.submit(job).result(timeout=LOOK_TIMEOUT)

    def close(self) -> None:
        def stop() -> None:
            if self._browser is not None:
                self._browser.close()
            if self._playwright is not None:
                self._playwright.stop()

        try:
            self._thread.submit(stop).result(timeout=LOOK_TIMEOUT)
        finally:
            self._thread.shutdown(wait=True)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Chromium]:
    executable = chromium_path()
    if executable is None:
        _missing("No Chromium found")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("Playwright is not installed (pip install -e '.[test]')")
    assert executable is not None
    browser = Chromium(executable)
    yield browser
    browser.close()


@pytest.fixture
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go: ``CLAUSES_SCREENSHOTS`` if set (e.g. var/screenshots), else a
    temporary folder of this test."""
    named = os.environ.get("CLAUSES_SCREENSHOTS")
    if named:
        folder = Path(named)
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path_factory.mktemp("screenshots")
