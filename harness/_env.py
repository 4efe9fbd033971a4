"""Test environment variables: the static `.env.test` file, injected live URLs, `override_env`.

Variable names may contain hyphens (`DATABASE-URL`), as the services read them; the
process environment accepts them even though shells do not.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from dotenv.parser import parse_stream

from ._config import URL_PARTS
from ._exceptions import EnvFileError
from ._urls import redact

__all__ = ["EnvMapping", "apply_env", "load_env_file", "override_env", "resolve_env_map"]

EnvMapping = Mapping[str, str]
"""Variable name -> source, e.g. ``{"DATABASE-URL": "postgres"}``."""

_MISSING = object()


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a dotenv file strictly: a line that is not ``KEY=value`` is an error.

    :raises EnvFileError: naming the file and line, for a missing file or a malformed line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EnvFileError(
            f"cannot read the test env file {path}: {exc.strerror}. Create it, or point "
            "`harness_env_file` (ini) / `--harness-env-file` at the right file."
        ) from exc
    values: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        line = binding.original.line
        if binding.error or (binding.key is not None and binding.value is None):
            shown = (
                binding.original.string.strip().splitlines()[0]
                if binding.original.string.strip()
                else ""
            )
            raise EnvFileError(
                f"{path}:{line}: malformed line {shown!r}: expected KEY=value "
                "(comments start with #; quote values that contain spaces)."
            )
        if binding.key is not None and binding.value is not None:
            values[binding.key] = binding.value
    return values


def load_env_file(path: Path, *, override: bool = False) -> dict[str, str]:
    """Load *path* into ``os.environ`` and return what it set.

    Variables already set in the environment win unless *override* is true, so a developer can
    still change one value from the shell for a single run.
    """
    values = read_env_file(path)
    applied = {k: v for k, v in values.items() if override or k not in os.environ}
    os.environ.update(applied)
    return applied


def resolve_env_map(mapping: EnvMapping, urls: Mapping[str, str]) -> dict[str, str]:
    """Turn an env mapping into concrete values from the live resource URLs.

    A source is a resource name (its URL, namespace included) or ``<resource>.<part>`` with part
    one of ``host``, ``port``, ``address`` (``host:port``, a Kafka bootstrap address), ``user``,
    ``password``, ``path`` (database / vhost / index). The names were checked with the
    configuration; whether the live URL has the part is known only now.
    Sources whose resource is not running this session are left out.

    :raises ValueError: for a part the URL lacks (a MongoDB without accounts has no ``user``),
        showing the URL without its password.
    """
    resolved: dict[str, str] = {}
    for variable, source in mapping.items():
        resource, _, part = source.partition(".")
        if resource not in urls:
            continue
        url = urls[resource]
        value = _url_part(url, part) if part else url
        if value is None:
            raise ValueError(
                f"harness_env_map: {variable}={source}: this session's {resource} URL "
                f"({redact(url)}) has no {part}. Map {variable} to the whole URL "
                f"({variable}={resource}) or to a part it has."
            )
        resolved[variable] = value
    return resolved


def _url_part(url: str, part: str) -> str | None:
    parts = urlsplit(url)
    values = {
        "host": parts.hostname,
        "port": str(parts.port) if parts.port else None,
        "address": f"{parts.hostname}:{parts.port}" if parts.hostname and parts.port else None,
        "user": parts.username,
        "password": parts.password,
        "path": parts.path.lstrip("/"),
    }
    assert values.keys() == set(URL_PARTS)
    return values.get(part) or None  # an empty user (redis://:password@...) is none


def apply_env(values: Mapping[str, str]) -> None:
    """Set *values* in ``os.environ`` for the rest of the session."""
    os.environ.update(values)


@contextmanager
def override_env(values: Mapping[str, str | None]) -> Iterator[None]:
    """Override environment variables for a block, then restore exactly what it changed.

    A value of ``None`` removes the variable for the block. Variables the block itself changes
    that were not overridden are left alone.

    .. code-block:: python

        with override_env({"JWT-SECRET-KEY": "another-secret"}):
            ...
    """
    saved: dict[str, object] = {key: os.environ.get(key, _MISSING) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, old in saved.items():
            if old is _MISSING:
                os.environ.pop(key, None)
            else:
                os.environ[key] = str(old)
