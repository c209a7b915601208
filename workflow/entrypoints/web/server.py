"""Serving the pages with uvicorn: alone (``clauses web``) or in the event loop of ``clauses serve``,
beside the clock, whose signal handlers then stop both."""

from __future__ import annotations

import gc
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site
from workflow.errors import ClausesError

log = logging.getLogger("workflow.web")


class SharedLoopServer(uvicorn.Server):
    """A uvicorn server that leaves the signals to the service it runs beside: ``serve_async``
    handles SIGTERM and SIGINT and sets ``should_exit``."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def settled_site(app: App) -> Any:
    """The site, with what was built to start it set aside from the garbage collector: the
    libraries, templates and mappers live as long as the process, and a collection that walks
    them again on every busy request cost the dashboard a fifth of its time at 10^4 lots."""
    site = create_site(app)
    gc.collect()
    gc.freeze()
    return site


def web_config(app: App) -> uvicorn.Config:
    settings = app.settings
    return uvicorn.Config(
        settled_site(app),
        host=settings.web_host,
        port=settings.web_port,
        log_config=None,  # the service's JSON lines, not uvicorn's own format
        access_log=False,
        lifespan="off",
        proxy_headers=True,
        server_header=False,
    )


class WebPortTaken(ClausesError):
    """Les pages web ne peuvent pas écouter à l'adresse réglée."""


def bind(app: App) -> socket.socket:
    """The listening socket, bound before anything starts: a port already taken stops the
    start with a French message, never half a service. Port 0 takes any free one (tests)."""
    settings = app.settings
    try:
        infos = socket.getaddrinfo(
            settings.web_host, settings.web_port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, kind, protocol, _, address = infos[0]
        listening = socket.socket(family, kind, protocol)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(address)
        # Listening at once: a request that comes before uvicorn's first turn of the loop waits
        # in the backlog instead of being refused.
        listening.listen(2048)
    except OSError as exc:
        raise WebPortTaken(
            f"Les pages web ne peuvent pas écouter sur {settings.web_host}:{settings.web_port} "
            f"({exc.strerror or exc}) : le port est sans doute pris par un autre programme. "
            "Réglez CLAUSES_WEB_HOST / CLAUSES_WEB_PORT, ou lancez « clauses serve --no-web »."
        ) from None
    listening.set_inheritable(True)
    return listening


def announce(app: App, listening: socket.socket) -> None:
    # uvicorn's own start-up lines would repeat this one without an ``action``: its warnings stay.
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    host, port = listening.getsockname()[:2]
    log.info(
        "web started",
        extra={
            "action": "web.started",
            "host": host,
            "port": port,
            "base_url": app.settings.base_url,
        },
    )


def run_web(app: App) -> None:
    """``clauses web``: the pages alone, until SIGTERM or Ctrl-C."""
    listening = bind(app)
    server = uvicorn.Server(web_config(app))
    announce(app, listening)
    server.run(sockets=[listening])
