"""URL surgery shared by the resources: swap the path (database, vhost, index) of an admin URL."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

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
    """*url* with its password replaced by ``***``, safe to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
