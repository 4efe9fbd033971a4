"""The harness's markers: their registration and how their one argument is read."""

from __future__ import annotations

import pytest

__all__ = ["MARKERS", "marker_arg"]

MARKERS = (
    "harness_timeout(seconds): time limit of this test, overriding harness_timeout (0 for none)",
    "harness_leak_check(mode): leak check of this test: 'fail', 'warn' or 'off'",
)


def marker_arg(item: pytest.Item, name: str) -> object:
    """The one argument of the closest ``@pytest.mark.<name>``, or ``None`` without one."""
    marker = item.get_closest_marker(name)
    if marker is None:
        return None
    if len(marker.args) != 1 or marker.kwargs:
        pytest.fail(f"{item.nodeid}: use @pytest.mark.{name}(value), one argument.", pytrace=False)
    return marker.args[0]
