"""What seeded(...) guarantees: the delete runs however the block ends, and never hides the
test's own error."""

from collections.abc import AsyncIterator

import anyio
import pytest

from harness import CleanupTimeoutError, postgres, seed, seeded
from services.self_delivery_service.tests.integration.utils.courier_test_helper import user_row

pytestmark = pytest.mark.anyio


async def user_exists(user_id: int) -> bool:
    return (
        await postgres().fetchval("SELECT count(*) FROM marten.users WHERE id = $1", user_id) == 1
    )


# --8<-- [start:however_it_ends]
async def test_the_delete_runs_when_the_block_raises(postgres_url: str) -> None:
    with pytest.raises(LookupError):
        async with seeded(user_row()) as user_id:
            assert await user_exists(user_id)
            raise LookupError("the action under test failed")
    assert not await user_exists(user_id)


async def test_the_delete_runs_when_the_block_is_cancelled(postgres_url: str) -> None:
    with anyio.CancelScope() as scope:
        async with seeded(user_row()) as user_id:
            scope.cancel()  # as a timeout or a failing sibling task would
            await anyio.sleep(30)  # cancelled here; the delete still runs, shielded
    assert not await user_exists(user_id)


# --8<-- [end:however_it_ends]


# --8<-- [start:same_seed_twice]
async def test_one_seed_object_entered_twice_makes_two_rows(postgres_url: str) -> None:
    row = user_row()  # a description of the data: nothing is inserted yet
    async with seeded(row, row) as (first, second):
        assert first != second  # the generator ran twice: two rows, both deleted afterwards


# --8<-- [end:same_seed_twice]


# --8<-- [start:cleanup_errors]
@seed
async def delete_fails() -> AsyncIterator[None]:
    yield None
    raise ConnectionResetError("the delete failed")


async def test_a_failing_cleanup_is_a_note_on_the_tests_own_error() -> None:
    with pytest.raises(AssertionError) as caught:  # the test's error, not the cleanup's
        async with seeded(delete_fails()):
            status_code = 500
            assert status_code == 201
    [note] = caught.value.__notes__
    assert "While cleaning up after this error, seeded(...) also failed" in note
    assert "ConnectionResetError: the delete failed" in note


async def test_a_failing_cleanup_after_a_passing_block_is_raised() -> None:
    with pytest.raises(ConnectionResetError, match="the delete failed"):
        async with seeded(delete_fails()):
            pass


# --8<-- [end:cleanup_errors]


# --8<-- [start:cleanup_timeout]
@seed(cleanup_timeout=5)  # this seed's bound, instead of harness_cleanup_timeout
async def delete_hangs() -> AsyncIterator[None]:
    yield None
    await anyio.sleep(60)  # say, a DELETE waiting for a lock the app never released


async def test_a_hung_cleanup_fails_instead_of_hanging_the_run() -> None:
    with pytest.raises(CleanupTimeoutError, match=r"cleanup of seed delete_hangs\(\)"):
        async with seeded(delete_hangs(), cleanup_timeout=0.2):  # the block's bound wins
            pass


# --8<-- [end:cleanup_timeout]
