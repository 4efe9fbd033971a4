"""What the per-test leak check costs, against real servers, next to a typical test body.

Run from the repository root: ``python bench/leak_check_cost.py [iterations] [--json]``. It
starts the servers the way the plugin does (``harness_backend`` from pyproject: auto), or joins
a run that is up (``HARNESS_STATE_DIR`` + ``HARNESS_RUN_KEY``: ``bench/run.py`` does that, so the
servers start once for every benchmark), seeds the migrated schema with a few rows, then times:

* the leak check per test (one count: a test's "after" count is the next one's "before") for
  each store and for all three together (they are counted concurrently);
* four ways to count PostgreSQL rows exactly: the harness's cached ``UNION ALL`` statement
  that also reads whether a table was created (one round trip), a one-statement
  ``query_to_xml`` query (one round trip, no cache), the catalog query + a ``UNION ALL`` count
  statement (two round trips), and a bare cached ``UNION ALL`` (misses tables created since);
* a typical small integration test body: seed two rows, one read, clean up.

``--json`` prints the rows as JSON (``[state, label, median_ms, p90_ms]``) for ``bench/run.py``.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

import anyio
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import postgres, postgres_row, seeded  # noqa: E402
from harness._config import config_from_project  # noqa: E402
from harness._infra import Infrastructure  # noqa: E402
from harness._leak_check import snapshot  # noqa: E402
from harness._session import HarnessSession, activate  # noqa: E402
from harness.resources import LeakCounter  # noqa: E402
from harness.resources.postgres import RowCounter  # noqa: E402

STORES = frozenset({"postgres", "mongo", "redis"})

_TABLES = r"""
SELECT format('%I.%I', n.nspname, c.relname) AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> 'alembic_version'
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
"""


def _union_all(tables: list[str]) -> str:
    return " UNION ALL ".join(f"SELECT '{t}' AS name, count(*) AS n FROM {t}" for t in tables)


_QUERY_TO_XML = r"""
SELECT format('%I.%I', n.nspname, c.relname) AS name,
       (xpath('/row/n/text()', query_to_xml(
           format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, ''
       )))[1]::text::bigint AS n
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> 'alembic_version'
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
"""


async def pg_query_to_xml() -> None:
    await postgres().fetch(_QUERY_TO_XML)


async def pg_catalog_then_union() -> None:
    tables = [row["name"] for row in await postgres().fetch(_TABLES)]
    await postgres().fetch(_union_all(tables))


COUNTERS: dict[str, LeakCounter] = {}


async def sequential_per_test() -> None:
    for store in sorted(STORES):
        await snapshot({store: COUNTERS[store]})


async def timed(step: Callable[[], Awaitable[Any]], iterations: int) -> tuple[float, float]:
    """Median and p90 of one call, in milliseconds."""
    for _ in range(20):
        await step()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        await step()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9)]


async def typical_test() -> None:
    async with seeded(
        postgres_row("marten.users", email=f"{uuid4().hex}@example.com"),
        postgres_row("marten.users", email=f"{uuid4().hex}@example.com"),
    ) as (user, _):
        await postgres().fetchrow("SELECT * FROM marten.users WHERE id = $1", user["id"])


async def main(iterations: int, as_json: bool = False) -> None:
    session = HarnessSession(config_from_project(ROOT))
    with activate(session):
        await _main(session, iterations, as_json)


async def _main(session: HarnessSession, iterations: int, as_json: bool) -> None:
    infra = Infrastructure(session.config, session=session)
    lines = await infra.start(STORES)
    COUNTERS.update(infra.leak_counters)
    results: list[tuple[str, str, float, float]] = []
    try:
        for line in lines if not as_json else ():
            print(line.render())
        tables = [row["name"] for row in await postgres().fetch(_TABLES)]
        cached = _union_all(tables)
        own = await asyncpg.connect(infra.urls["postgres"])
        pooled = RowCounter(postgres())  # the same counter, on the shared pool

        async def through_the_pool() -> None:
            await pooled.count()

        async def per_test(stores: frozenset[str]) -> None:
            await snapshot({store: COUNTERS[store] for store in stores})

        rows: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("leak check per test, postgres only", lambda: per_test(frozenset({"postgres"}))),
            ("  (the same, through the shared pool)", through_the_pool),
            ("leak check per test, mongo only", lambda: per_test(frozenset({"mongo"}))),
            ("leak check per test, redis only", lambda: per_test(frozenset({"redis"}))),
            ("leak check per test, all three", lambda: per_test(STORES)),
            ("  (the same, stores one after the other)", sequential_per_test),
            ("pg count: cached UNION ALL + table check (used)", COUNTERS["postgres"].count),
            ("pg count: cached UNION ALL, own connection", lambda: own.fetch(cached)),
            ("pg count: query_to_xml, 1 round trip", pg_query_to_xml),
            ("pg count: catalog + UNION ALL, 2 round trips", pg_catalog_then_union),
            ("pg count: cached UNION ALL, through the pool", lambda: postgres().fetch(cached)),
            ("typical test body: seed 2 rows, read, clean up", typical_test),
        ]
        for state in ("empty stores (a suite that cleans up)", "50 rows / documents / keys"):
            if state.startswith("50"):
                await _fill()
            if not as_json:
                print(
                    f"\n{state}: {len(tables)} PostgreSQL tables, 2 Mongo collections when filled;"
                )
                print(f"{iterations} iterations; times in ms {'median':>20} {'p90':>8}")
            for label, step in rows:
                median, p90 = await timed(step, iterations)
                results.append((state, label, median, p90))
                if not as_json:
                    print(f"  {label:50} {median:8.3f} {p90:8.3f}")
        await own.close()
        if as_json:
            print(json.dumps(results))
    finally:
        await _empty()
        await infra.close()


async def _fill() -> None:
    """A few rows, documents and keys, so the counts are not all of empty stores."""
    from harness import mongo, redis

    for _ in range(50):
        await postgres().execute(
            "INSERT INTO marten.users (email) VALUES ($1)", f"{uuid4().hex}@bench.example"
        )
    await mongo()["bench_locations"].insert_many([{"n": n} for n in range(50)])
    await mongo()["bench_other"].insert_one({"n": 0})
    await redis().mset({f"bench:{n}": n for n in range(50)})


async def _empty() -> None:
    from harness import mongo, redis

    with anyio.CancelScope(shield=True):
        await postgres().execute("DELETE FROM marten.users WHERE email LIKE '%@bench.example'")
        await mongo()["bench_locations"].drop()
        await mongo()["bench_other"].drop()
        await redis().delete(*[f"bench:{n}" for n in range(50)])


if __name__ == "__main__":
    numbers = [arg for arg in sys.argv[1:] if arg.isdigit()]
    anyio.run(main, int(numbers[0]) if numbers else 300, "--json" in sys.argv[1:])
