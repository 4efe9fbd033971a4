"""The guarantees of ``@seed`` / ``seeded``: cleanup runs however the block ends, bounded, loud.

The store here is a plain list so each guarantee is checked in isolation and fast; the
ready-made seeds in ``test_seeds.py`` prove the same flow against the real servers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from harness import Seed, seed, seeded
from harness._exceptions import CleanupTimeoutError

pytestmark = pytest.mark.anyio


class Store:
    """Rows plus a journal of what happened, in order."""

    def __init__(self) -> None:
        self.rows: list[str] = []
        self.journal: list[str] = []


@pytest.fixture
def store() -> Store:
    return Store()


@seed
async def row(store: Store, name: str) -> AsyncIterator[str]:
    store.rows.append(name)
    store.journal.append(f"+{name}")
    yield name
    store.rows.remove(name)
    store.journal.append(f"-{name}")


@seed
async def slow_delete_row(store: Store, name: str) -> AsyncIterator[str]:
    store.rows.append(name)
    yield name
    await anyio.sleep(0.05)  # would be cancelled at once without the shield
    store.rows.remove(name)


@seed
async def broken_delete_row(store: Store, name: str) -> AsyncIterator[str]:
    store.rows.append(name)
    yield name
    raise ConnectionError(f"lost the connection while deleting {name}")


@seed(cleanup_timeout=0.2)
async def hung_delete_row(store: Store, name: str) -> AsyncIterator[str]:
    store.rows.append(name)
    yield name
    await anyio.sleep_forever()


@seed
async def failing_insert_row(store: Store, name: str) -> AsyncIterator[str]:
    raise ValueError(f"duplicate key {name}")
    yield name  # pragma: no cover


# -- the block ends: normally, by assertion, by exception -------------------------------------


async def test_one_seed_gives_its_value_and_is_deleted_after_a_normal_block(store: Store) -> None:
    async with seeded(row(store, "alice")) as name:
        assert name == "alice"
        assert store.rows == ["alice"]
    assert store.rows == []


async def test_several_seeds_give_a_tuple_entered_in_order_deleted_in_reverse(
    store: Store,
) -> None:
    async with seeded(row(store, "a"), row(store, "b"), row(store, "c")) as values:
        assert values == ("a", "b", "c")
    assert store.journal == ["+a", "+b", "+c", "-c", "-b", "-a"]


async def test_cleanup_runs_after_an_assertion_failure(store: Store) -> None:
    with pytest.raises(AssertionError, match="status 500"):
        async with seeded(row(store, "alice")):
            raise AssertionError("status 500")
    assert store.rows == []


async def test_cleanup_runs_after_any_exception(store: Store) -> None:
    with pytest.raises(KeyError):
        async with seeded(row(store, "alice"), row(store, "bob")):
            raise KeyError("boom")
    assert store.rows == []


# -- cancellation and timeouts ----------------------------------------------------------------


async def test_cleanup_runs_when_an_enclosing_scope_is_cancelled(store: Store) -> None:
    with anyio.CancelScope() as scope:
        async with seeded(row(store, "alice")):
            assert store.rows == ["alice"]
            scope.cancel()  # as a deadline or a failing sibling task would, once inside
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    assert store.rows == []


async def test_cleanup_runs_when_fail_after_expires(store: Store) -> None:
    with pytest.raises(TimeoutError):
        with anyio.fail_after(0.05):
            async with seeded(row(store, "alice")):
                await anyio.sleep_forever()
    assert store.rows == []


async def test_cleanup_is_shielded_from_the_cancellation_that_ended_the_block(
    store: Store,
) -> None:
    with anyio.CancelScope() as scope:
        async with seeded(slow_delete_row(store, "alice")):
            scope.cancel()
            await anyio.sleep_forever()
    assert store.rows == []


async def test_cleanup_runs_when_a_seed_creation_is_cancelled(store: Store) -> None:
    @seed
    async def slow_insert(name: str) -> AsyncIterator[str]:
        await anyio.sleep_forever()
        yield name  # pragma: no cover

    with anyio.move_on_after(0.05):
        async with seeded(row(store, "alice"), slow_insert("bob")):
            pytest.fail("the block must not run when a seed could not be created")
    assert store.rows == []


# -- cleanup errors never hide the test's error -----------------------------------------------


async def test_failing_cleanup_and_failing_block_both_reported(store: Store) -> None:
    with pytest.raises(AssertionError, match="the test's own failure") as caught:
        async with seeded(broken_delete_row(store, "alice")):
            raise AssertionError("the test's own failure")
    notes = "\n".join(caught.value.__notes__)
    assert "ConnectionError: lost the connection while deleting alice" in notes
    assert "seeded(...) also failed" in notes


async def test_failing_cleanup_after_a_passing_block_is_raised(store: Store) -> None:
    with pytest.raises(ConnectionError, match="deleting alice"):
        async with seeded(broken_delete_row(store, "alice")):
            pass


async def test_every_failing_cleanup_is_reported_and_the_others_still_run(store: Store) -> None:
    with pytest.RaisesGroup(ConnectionError, ConnectionError, match="2 cleanups failed"):
        async with seeded(
            broken_delete_row(store, "a"), row(store, "b"), broken_delete_row(store, "c")
        ):
            pass
    assert store.rows == ["a", "c"]  # the broken ones could not delete; "b" was deleted


async def test_failing_cleanup_is_not_lost_when_the_block_was_cancelled(store: Store) -> None:
    with pytest.raises(ConnectionError, match="deleting alice"):
        with anyio.CancelScope() as scope:
            async with seeded(broken_delete_row(store, "alice")):
                scope.cancel()
                await anyio.sleep_forever()


# -- creation failures ------------------------------------------------------------------------


async def test_a_later_seed_failing_creation_still_deletes_the_earlier_ones(store: Store) -> None:
    with pytest.raises(ValueError, match="duplicate key bob"):
        async with seeded(row(store, "alice"), failing_insert_row(store, "bob")):
            pytest.fail("the block must not run when a seed could not be created")
    assert store.journal == ["+alice", "-alice"]


async def test_creation_failure_and_cleanup_failure_are_both_reported(store: Store) -> None:
    with pytest.raises(ValueError, match="duplicate key bob") as caught:
        async with seeded(broken_delete_row(store, "alice"), failing_insert_row(store, "bob")):
            pass  # pragma: no cover
    assert "deleting alice" in "\n".join(caught.value.__notes__)


# -- hung cleanup -----------------------------------------------------------------------------


@pytest.mark.harness_timeout(60)  # the bound on a hang, not a speed: it ends at ~0.2 s
async def test_hung_cleanup_fails_loudly_within_its_bound_naming_the_seed(store: Store) -> None:
    started = anyio.current_time()
    with pytest.raises(CleanupTimeoutError) as caught:
        async with seeded(row(store, "first"), hung_delete_row(store, "stuck")):
            pass
    assert anyio.current_time() - started >= 0.2  # it waited for its bound, however fast
    message = str(caught.value)
    assert "hung_delete_row(" in message and "'stuck'" in message and "0.2 s" in message
    assert caught.value.__cause__ is not None  # where it was stuck
    assert store.rows == ["stuck"]  # "first" was still deleted after the hung one


@seed(cleanup_timeout=3600)
async def delete_hangs_an_hour(store: Store, name: str) -> AsyncIterator[str]:
    store.rows.append(name)
    yield name
    await anyio.sleep_forever()


@pytest.mark.harness_timeout(60)  # were the seed's own hour used, the test would fail here
async def test_block_cleanup_timeout_overrides_the_seeds_own(store: Store) -> None:
    with pytest.raises(CleanupTimeoutError, match=r"within 0\.05 s"):
        async with seeded(delete_hangs_an_hour(store, "stuck"), cleanup_timeout=0.05):
            pass


async def test_hung_cleanup_after_a_failing_block_keeps_the_blocks_error(store: Store) -> None:
    with pytest.raises(AssertionError, match="own failure") as caught:
        async with seeded(hung_delete_row(store, "stuck")):
            raise AssertionError("own failure")
    assert "CleanupTimeoutError" in "\n".join(caught.value.__notes__)


async def test_default_cleanup_timeout_is_configurable(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from harness._session import current

    @seed
    async def hung(name: str) -> AsyncIterator[str]:
        yield name
        await anyio.sleep_forever()

    session = current()
    assert session is not None
    monkeypatch.setattr(session, "config", replace(session.config, cleanup_timeout=0.05))
    with pytest.raises(CleanupTimeoutError, match=r"within 0\.05 s"):
        async with seeded(hung("x")):
            pass


# -- reuse and dependencies -------------------------------------------------------------------


async def test_the_same_seed_function_used_twice_in_one_block(store: Store) -> None:
    async with seeded(row(store, "a"), row(store, "b")) as (first, second):
        assert (first, second) == ("a", "b")
    assert store.rows == []


async def test_the_same_seed_object_entered_twice_runs_twice(store: Store) -> None:
    twice = row(store, "x")
    async with seeded(twice, twice) as values:
        assert values == ("x", "x")
        assert store.rows == ["x", "x"]
    assert store.rows == []


async def test_seeds_can_depend_on_earlier_ones(store: Store) -> None:
    async with seeded(row(store, "user")) as user, seeded(row(store, f"{user}:courier")) as c:
        assert c == "user:courier"
    assert store.journal == ["+user", "+user:courier", "-user:courier", "-user"]


async def test_a_seeded_block_can_be_reused_after_it_ends(store: Store) -> None:
    block = seeded(row(store, "a"))
    async with block:
        pass
    async with block:
        assert store.rows == ["a"]
    assert store.rows == []


# -- misuse gives precise errors --------------------------------------------------------------


def test_seed_rejects_a_function_that_is_not_an_async_generator() -> None:
    async def no_yield() -> None: ...

    with pytest.raises(TypeError, match="async generator function"):
        seed(no_yield)  # type: ignore[arg-type]


def test_seeded_rejects_an_uncalled_seed_function(store: Store) -> None:
    with pytest.raises(TypeError, match=r"call it: seeded\(row\(\.\.\.\)\)"):
        seeded(row)  # type: ignore[call-overload]


async def test_a_seed_that_never_yields_is_an_error() -> None:
    @seed
    async def empty() -> AsyncIterator[int]:
        return
        yield 1  # pragma: no cover

    with pytest.raises(RuntimeError, match=r"empty\(\) finished without yielding"):
        async with seeded(empty()):
            pass  # pragma: no cover


async def test_a_seed_that_yields_twice_is_an_error() -> None:
    @seed
    async def twice() -> AsyncIterator[int]:
        yield 1
        yield 2

    with pytest.raises(RuntimeError, match="yielded more than once"):
        async with seeded(twice()):
            pass


def test_seed_repr_names_the_call(store: Store) -> None:
    made = row(store, "alice")
    assert isinstance(made, Seed)
    assert "row(" in repr(made) and "'alice'" in repr(made)
