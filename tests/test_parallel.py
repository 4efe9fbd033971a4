"""xdist: servers start once for all workers; each worker has its own database, vhost, Redis
index and Mongo database, so two workers writing the same names never see each other."""

from __future__ import annotations

from pathlib import Path

import pytest

ISOLATION_TEST = '''
import os, pathlib, time
import aio_pika, pytest, harness

pytestmark = [pytest.mark.anyio, pytest.mark.harness_leak_check("off")]
BARRIER = pathlib.Path(os.environ["BARRIER_DIR"])


def wait_for_the_other_worker(me):
    """Both workers must have written before either reads, else isolation is not tested."""
    (BARRIER / me).touch()
    deadline = time.monotonic() + 60
    while len(list(BARRIER.iterdir())) < 2:
        assert time.monotonic() < deadline, "the two tests did not run at once on two workers"
        time.sleep(0.05)


@pytest.mark.parametrize("n", [1, 2])
async def test_same_names_never_collide(n, worker_id, postgres_url, redis_url, mongo_url, rabbitmq_url):
    me = worker_id
    pg, rd, db, ch = harness.postgres(), harness.redis(), harness.mongo(), harness.rabbitmq()
    await pg.execute("CREATE TABLE iso (who text)")
    await pg.execute("INSERT INTO iso VALUES ($1)", me)
    await rd.set("shared-key", me)
    await db.iso.insert_one({"who": me})
    queue = await ch.declare_queue("shared-queue")
    await ch.default_exchange.publish(aio_pika.Message(me.encode()), routing_key="shared-queue")

    wait_for_the_other_worker(me)

    assert [r["who"] for r in await pg.fetch("SELECT who FROM iso")] == [me]
    assert (await rd.get("shared-key")).decode() == me
    assert [d["who"] async for d in db.iso.find()] == [me]
    message = await queue.get(timeout=5)
    assert message.body.decode() == me
    await message.ack()
    assert await queue.get(fail=False) is None
    await pg.execute("DROP TABLE iso")
    await rd.delete("shared-key")
    await db.iso.drop()
    await queue.delete()
'''


def test_two_workers_share_servers_started_once_and_never_see_each_other(
    inner_pytest, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    pytester.makepyfile(test_isolation=ISOLATION_TEST)
    result = inner_pytest(
        "-n",
        "2",
        "--dist",
        "load",
        "-q",
        join=False,
        env={"BARRIER_DIR": str(barrier), "HARNESS_STATE_DIR": str(tmp_path / "state")},
    )
    result.assert_outcomes(passed=2)
    lines = [line for line in result.outlines if line.startswith("harness: ")]
    started = sorted(
        line.split()[1] for line in lines if line.endswith(" s") and "shared" not in line
    )
    assert started == ["mongo", "postgres", "rabbitmq", "redis"], lines  # once, not per worker
    assert sorted(p.name for p in barrier.iterdir()) == ["gw0", "gw1"]
    assert not list((tmp_path / "state" / "runs").iterdir()), (
        "the last worker did not stop the servers, or a record or lock file was left"
    )
