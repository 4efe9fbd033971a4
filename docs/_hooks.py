"""mkdocs hook: tidy the reStructuredText left in docstrings after mkdocstrings renders them.

The harness's docstrings use Sphinx conventions (``.. code-block:: python``, ``:class:`X```).
The code blocks already render as code; this drops the directive line and the role prefixes.
"""

from __future__ import annotations

import re
from typing import Any

_DIRECTIVE = re.compile(r"<p>\.\. code-block:: \w+</p>\s*")
_ROLE = re.compile(r":(?:class|func|meth|attr|exc|mod|data):<code>~?(?:[\w.]*\.)?(\w+)</code>")


def on_page_content(html: str, **_: Any) -> str:
    return _ROLE.sub(r"<code>\1</code>", _DIRECTIVE.sub("", html))
