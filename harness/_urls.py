"""URL surgery shared by the resources: swap the path (database, vhost, index) of an admin URL."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from ._redact import scrub

__all__ = ["address", "redact", "with_path"]


def with_path(url: str, path: str) -> str:
    """*url* with its path replaced by ``/<path>`` (percent-encoded, so a vhost may contain ``/``)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(path, safe="")))


def address(url: str) -> str:
    """``host:port`` of *url*, for the terminal (never the credentials)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}"


def redact(url: str) -> str:
    """*url* with its password replaced by ``***``, safe to print (every message the harness
    writes goes through the same :func:`harness._redact.scrub`)."""
    return scrub(url)
