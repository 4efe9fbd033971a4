"""No password in any output: one place that scrubs text, exceptions, log records and pytest's
reports.

Two rules, applied to every message the harness writes and every error it lets through:

* the password of any URL (``scheme://user:password@host``) becomes ``***``;
* a password the harness holds (generated for a server it started, read from a
  ``HARNESS_*_URL`` variable or a run record) becomes ``***`` wherever it appears on its own,
  as a driver's error might quote it.
  Passwords shorter than :data:`MIN_SECRET` characters, or equal to their user name (CI's
  ``postgres:postgres``), are not searched for on their own: they would hide ordinary words.

The one output that shows passwords on purpose is the environment ``harness up`` prints.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import re
from collections.abc import Iterator
from typing import Any, TextIO
from urllib.parse import unquote, urlsplit

__all__ = [
    "MIN_SECRET",
    "ScrubbingWriter",
    "remember",
    "scrub",
    "scrub_exception",
    "scrub_object",
    "scrubbed",
]

MIN_SECRET = 8
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@'\"]*:)(?P<password>[^\s/?#@'\"]+)@"
)
_held: set[str] = set()
"""Passwords this process holds: process-wide, like the servers they protect."""


def remember(url_or_secret: str) -> None:
    """Hold *url_or_secret* (a URL's password, or a bare secret) so that output never shows it."""
    if "://" in url_or_secret:
        parts = urlsplit(url_or_secret)
        password, user = parts.password, parts.username
    else:
        password, user = url_or_secret, None
    if not password or password == user:
        return
    for form in {password, unquote(password)}:
        if len(form) >= MIN_SECRET:
            _held.add(form)


def _secrets() -> set[str]:
    return _held


def scrub(text: str) -> str:
    """*text* with every URL's password and every held password replaced by ``***``; also the
    piece of a held password next to a ``...`` where a long repr was cut short (pytest shows
    ``'postgresql://harness:Vw6g...'``)."""
    if "://" in text:
        text = _URL_PASSWORD.sub(_hide, text)
    for secret in sorted(_secrets(), key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
        if _CUT in text:
            text = _scrub_cut(text, secret)
    return text


def _hide(match: re.Match[str]) -> str:
    """The URL's head with ``***`` for its password, unless that is an example's placeholder
    (``user:password@host``, as messages show how a URL looks)."""
    if match["password"] in _EXAMPLES:
        return match[0]
    return f"{match['head']}***@"


_EXAMPLES = {"password", "***"}
_CUT = "..."
_PIECE = 4
"""The shortest piece of a password next to a cut that is replaced."""


def _scrub_cut(text: str, secret: str) -> str:
    """Replace the start of *secret* ending right before a cut, and its end right after one."""
    parts = text.split(_CUT)
    for index in range(len(parts) - 1):
        before, after = parts[index], parts[index + 1]
        for size in range(min(len(secret) - 1, len(before)), _PIECE - 1, -1):
            if before.endswith(secret[:size]):
                parts[index] = before[:-size] + "***"
                break
        for size in range(min(len(secret) - 1, len(after)), _PIECE - 1, -1):
            if after.startswith(secret[-size:]):
                parts[index + 1] = "***" + after[size:]
                break
    return _CUT.join(parts)


def scrubbed(value: Any) -> Any:
    """*value* scrubbed if it is text (or text in a list, tuple or dict), else unchanged."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list | tuple):
        items = [scrubbed(item) for item in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {key: scrubbed(item) for key, item in value.items()}
    return value


def _chain(error: BaseException) -> Iterator[BaseException]:
    """*error*, its causes, contexts and group members, each once."""
    seen: set[int] = set()
    todo = [error]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
        if isinstance(current, BaseExceptionGroup):
            todo += list(current.exceptions)


def scrub_exception(error: BaseException) -> BaseException:
    """Scrub *error* and its whole chain in place (messages, text attributes, notes): a
    driver's error the harness lets through or chains cannot show a password. Returns *error*."""
    for current in _chain(error):
        try:
            current.args = tuple(scrubbed(arg) for arg in current.args)
            for name, value in list(vars(current).items()):
                if name != "__notes__":
                    setattr(current, name, scrubbed(value))
            if isinstance(current, OSError):  # set only what is set: None would show in str()
                if isinstance(current.strerror, str):
                    current.strerror = scrub(current.strerror)
                if isinstance(current.filename, str):
                    current.filename = scrub(current.filename)
            notes = getattr(current, "__notes__", None)
            if isinstance(notes, list):
                notes[:] = [scrubbed(note) for note in notes]
        except (AttributeError, TypeError):  # read-only attributes of an exotic exception
            continue
    return error


def scrub_object(obj: Any, depth: int = 0) -> Any:
    """Scrub the text inside one of pytest's report objects (tracebacks, function arguments,
    locals, an exception chain): dataclasses holding strings, lists and tuples. Mutable parts
    are scrubbed in place; returns *obj*, or a scrubbed copy of a string or tuple."""
    if depth > 16:
        return obj
    if isinstance(obj, str):
        return scrub(obj)
    if isinstance(obj, tuple):
        return tuple(scrub_object(item, depth + 1) for item in obj)
    if isinstance(obj, list):
        obj[:] = [scrub_object(item, depth + 1) for item in obj]
    elif isinstance(obj, dict):
        for key, value in obj.items():
            obj[key] = scrub_object(value, depth + 1)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for field in dataclasses.fields(obj):
            value = getattr(obj, field.name, None)
            object.__setattr__(obj, field.name, scrub_object(value, depth + 1))
    return obj


class ScrubbingWriter(io.TextIOBase):
    """A text stream that scrubs what it writes into *target* (the ``harness`` command's
    stdout and stderr)."""

    def __init__(self, target: TextIO) -> None:
        self.target = target

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.target.write(scrub(text))
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()


class ScrubFilter(logging.Filter):
    """Scrubs every record of the ``harness`` logger: its message, arguments and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit: logging reports it
            return True
        record.msg, record.args = scrub(message), None
        if record.exc_info and record.exc_info[1] is not None:
            scrub_exception(record.exc_info[1])
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


logging.getLogger("harness").addFilter(ScrubFilter())
