"""What a service needs of the running application to write an email: the settings and the
template renderer. A protocol, so services do not import ``bootstrap`` (which imports them to wire
the event handlers) and a test can hand in any object that has both."""

from __future__ import annotations

from typing import Protocol

from workflow.adapters.templates import TemplateRenderer
from workflow.settings import Settings


class Mailing(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def renderer(self) -> TemplateRenderer: ...
