"""``eventually``: passes late, times out with the last failure, its duration and tries."""

from __future__ import annotations

import re

import anyio
import anyio.lowlevel
import pytest

from harness import eventually

pytestmark = pytest.mark.anyio


# Checks that pass late get timeout=60: they return as soon as they pass, so the bound matters
# only on a starved machine, where 2 s could run out before the few tries they need.


class Clock:
    """Something that becomes true after a number of calls."""

    def __init__(self, ready_after: int) -> None:
        self.calls = 0
        self.ready_after = ready_after

    def tick(self) -> int:
        self.calls += 1
        return self.calls


async def test_a_sync_assertion_that_passes_late_returns_its_value() -> None:
    clock = Clock(ready_after=3)

    def check() -> int:
        calls = clock.tick()
        assert calls >= clock.ready_after, f"only {calls} calls"
        return calls

    assert await eventually(check, timeout=60, interval=0.01) == 3


async def test_an_async_check_that_passes_late() -> None:
    clock = Clock(ready_after=4)

    async def check() -> None:
        await anyio.lowlevel.checkpoint()
        assert clock.tick() >= clock.ready_after

    await eventually(check, timeout=60, interval=0.01)
    assert clock.calls == 4


async def test_a_predicate_is_retried_while_falsy() -> None:
    clock = Clock(ready_after=2)
    assert await eventually(lambda: clock.tick() >= 2, timeout=60, interval=0.01) is True


async def test_timeout_reraises_the_last_assertion_with_time_and_tries() -> None:
    clock = Clock(ready_after=10**6)

    def check() -> None:
        assert clock.tick() > 10**6, f"attempt {clock.calls}"

    with pytest.raises(AssertionError) as caught:
        await eventually(check, timeout=0.2, interval=0.05)
    assert str(caught.value).startswith(f"attempt {clock.calls}\n")  # the *last* failure
    (note,) = caught.value.__notes__
    found = re.fullmatch(
        r"eventually\(\): still failing after (\d+\.\d\d) s and (\d+) tr(y|ies)\.", note
    )
    assert found, note
    assert float(found.group(1)) >= 0.2  # it kept trying until the deadline, however slow
    assert int(found.group(2)) == clock.calls >= 1


async def test_timeout_on_a_falsy_predicate_shows_the_value() -> None:
    with pytest.raises(AssertionError, match=r"returned \[\]"):
        await eventually(list, timeout=0.05, interval=0.01)


async def test_other_exceptions_propagate_at_once() -> None:
    clock = Clock(ready_after=1)

    def check() -> None:
        clock.tick()
        raise KeyError("not retryable")

    with pytest.raises(KeyError):
        await eventually(check, timeout=1)
    assert clock.calls == 1


async def test_retry_on_widens_what_counts_as_not_yet() -> None:
    clock = Clock(ready_after=3)

    def check() -> int:
        if clock.tick() < clock.ready_after:
            raise ConnectionRefusedError
        return clock.calls

    assert await eventually(check, timeout=60, interval=0.01, retry_on=OSError) == 3


@pytest.mark.harness_timeout(60)  # the bound on a hang, not a speed: it ends at ~0.1 s
async def test_a_hung_check_is_cancelled_at_the_deadline() -> None:
    with pytest.raises(AssertionError, match="still running at the deadline"):
        await eventually(anyio.sleep_forever, timeout=0.1)
