"""Templates compiled once per process, whatever the number of environments built.

Every ``App`` builds its renderer (two Jinja environments) and the web site its pages'
environment; each environment compiled every template it used, again. A process that builds
several (the web app beside the clock, one per test) spent a tenth of its rendering time
parsing and compiling the same files. Jinja's bytecode cache hook keeps the compiled code of a
template here, checked against the checksum of its source: a file edited is compiled again.
"""

from __future__ import annotations

from types import CodeType

from jinja2 import BytecodeCache
from jinja2.bccache import Bucket


class CompiledTemplates(BytecodeCache):
    """The code objects of the templates one kind of environment compiled, kept in memory.

    One instance per set of environment options (trim_blocks, autoescape…): the same file
    compiles differently under other options, and the bucket's key names only the file."""

    def __init__(self) -> None:
        self._codes: dict[str, tuple[str, CodeType]] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        found = self._codes.get(bucket.key)
        if found is not None and found[0] == bucket.checksum:
            bucket.code = found[1]

    def dump_bytecode(self, bucket: Bucket) -> None:
        if bucket.code is not None:
            self._codes[bucket.key] = (bucket.checksum, bucket.code)

    def clear(self) -> None:
        self._codes.clear()


#: The emails' HTML bodies, their text bodies and subjects, and the web pages.
EMAIL_HTML = CompiledTemplates()
EMAIL_TEXT = CompiledTemplates()
WEB_PAGES = CompiledTemplates()
