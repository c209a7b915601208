"""Templates compiled once per process, whatever the number of environments built.

Every ``App`` builds its renderer (two Jinja environments) and the web site its pages'
environment; each environment compiled every template it used, again. A process that builds
several (the web app beside the clock, one per test) spent a tenth of its rendering time
parsing and compiling the same files. Jinja's bytecode cache hook keeps the compiled code of a
template here, checked against the checksum of its source: a file edited is compiled again.
"""

from __future__ import annotations

from hashlib import sha1
from types import CodeType

from jinja2 import BytecodeCache, Environment
from jinja2.bccache import Bucket


class CompiledTemplates(BytecodeCache):
    """The code objects of the templates one kind of environment compiled, kept in memory,
    by file and by the options it was compiled under (``_options``)."""

    def __init__(self) -> None:
        self._codes: dict[str, tuple[str, CodeType]] = {}

    def get_bucket(
        self, environment: Environment, name: str, filename: str | None, source: str
    ) -> Bucket:
        # The key names the file and the options it was compiled under, so that two
        # environments sharing this cache by mistake never run each other's code.
        key = sha1(
            f"{self.get_cache_key(name, filename)}|{_options(environment)}".encode()
        ).hexdigest()
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        found = self._codes.get(bucket.key)
        if found is not None and found[0] == bucket.checksum:
            bucket.code = found[1]

    def dump_bytecode(self, bucket: Bucket) -> None:
        if bucket.code is not None:
            self._codes[bucket.key] = (bucket.checksum, bucket.code)

    def clear(self) -> None:
        self._codes.clear()


def _options(environment: Environment) -> str:
    """What changes the code Jinja compiles from one source: the syntax and whitespace options,
    the extensions, and autoescape (a ``select_autoescape`` function by what it was built
    from, not by its identity, which differs in every environment)."""
    autoescape = environment.autoescape
    if callable(autoescape):
        cells = tuple(c.cell_contents for c in getattr(autoescape, "__closure__", None) or ())
        autoescape_said = f"{autoescape.__qualname__}{cells!r}"
    else:
        autoescape_said = repr(autoescape)
    return repr(
        (
            type(environment).__qualname__,
            environment.block_start_string,
            environment.variable_start_string,
            environment.comment_start_string,
            environment.line_statement_prefix,
            environment.trim_blocks,
            environment.lstrip_blocks,
            environment.keep_trailing_newline,
            environment.newline_sequence,
            sorted(environment.extensions),
            autoescape_said,
        )
    )


#: The emails' HTML bodies, their text bodies and subjects, and the web pages.
EMAIL_HTML = CompiledTemplates()
EMAIL_TEXT = CompiledTemplates()
WEB_PAGES = CompiledTemplates()
