"""``paperbot digest`` to a fake Slack on a fresh SQLite database with CPU burners beside it (issue 16).

Each run is the real CLI in its own process: collect (a real HF day and two Korean blog feeds from local servers),
offline summaries (Korean bullets, each indexed for search), build, post to the fake Slack Web API. Three
``python3 -c 'while True: pass'`` processes (started here, killed by PID) keep this 2-core machine's CPUs busy the
whole time. Configurations, interleaved round by round, each run on a fresh database:

- ``fallback``: this branch with the default search analyser;
- ``kiwi``: this branch with ``search_analyzer = "kiwi"`` (Kiwi loads during the digest, in a worker thread);
- ``before``: the code of ``--baseline`` (default: the commit before this branch's first, i.e. main) extracted with
  ``git archive``, where Kiwi indexed every summary inside its write transaction (``--before-runs``, 0 to skip).

Reported: successes out of runs, and the median and range of the wall time of the successful runs. Target: 10/10.

The harder scenario (``--pool-runs``, beside the same burners, interleaved with the digests): one process, one event
loop, as in ``paperbot run``: the summariser (``summarize_pending`` with 8 workers over 120 items, an instant
summariser of Korean bullets, each indexed), vote writers (``add_vote`` on the posted messages), search readers
(``search_items``) and a task that keeps the loop busy in 50 ms slices (rendering, a Korean analysis on the loop),
all on one fresh SQLite file with WAL. A write transaction holds the lock between its statements while its
connection waits for that loop, so in-process writers stretch each other's waits. The busy timeout is shortened
(``--pool-busy-timeout-ms``, default 500 ms, in every configuration alike) so that what takes 10 s on a loaded day
shows in seconds. Configurations: ``pool`` (this branch: in-process writers queue in asyncio before ``BEGIN
IMMEDIATE``, the summariser writes its summaries in batches), ``pool-queue`` (``--pool-queue-baseline``: the queue
without a deadline, one commit per summary) and ``pool-before`` (``--pool-baseline``: before the queue). Reported:
writes (calls of ``add_summary``/``add_summaries``/``add_vote``) that succeeded out of attempted, summaries stored
out of 120, the longest write's wait and the longest write transaction (BEGIN to COMMIT: what the writer-turn
deadline, 60 s and not shortened with the busy timeout, is measured against), median and range over runs.

    .venv/bin/python bench/bench_load.py [--runs 10] [--burners 3] [--before-runs 3] [--baseline REV]
        [--pool-runs 3] [--pool-baseline REV] [--pool-queue-baseline REV] [--pool-busy-timeout-ms 500]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.store.digest_under_load import RunResult, burners, fake_slack, run_digest, source_server  # noqa: E402


def _extract(revision: str, into: Path) -> str:
    """``src/`` of ``revision`` under ``into``; returns the directory to put on PYTHONPATH."""
    into.mkdir(parents=True, exist_ok=True)
    archive = into / "src.tar"
    with archive.open("wb") as out:
        git = ["git", "-C", str(ROOT), "archive", revision, "src"]  # a revision named on our own command line
        subprocess.run(git, stdout=out, check=True)  # noqa: S603
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return str(into / "src")


_POOL_WORKER = r"""
import asyncio, json, sys, time
from datetime import date
from sqlalchemy import event
from paperbot.store import engine as engine_module
engine_module.SQLITE_BUSY_TIMEOUT_MS = int(sys.argv[2])
from paperbot.domain import Item, ItemKind, Summary, Vote
from paperbot.errors import StoreError
from paperbot.service.summarize import summarize_pending
from paperbot.store.migrate import ensure_schema
from paperbot.store.sql import SqlRepository

URL, ITEMS, WRITERS = sys.argv[1], 120, 8
BULLETS = ("희소 어텐션으로 긴 문맥을 처리합니다.", "언어 모델의 추론 비용을 줄입니다.", "벤치마크에서 성능이 오릅니다.")


class Summarizer:
    # Korean bullets at once (as the offline summariser of a backfill): the most writes per second.
    backend = model = "offline"
    daily_budget_usd = None

    def cache_key(self, item):
        return f"{item.id:064x}", "v2", "offline"

    async def summarize(self, item):
        await asyncio.sleep(0)
        return Summary(item_id=item.id, bullets=tuple(f"{b} ({item.id})" for b in BULLETS), backend="offline",
                       model="offline", prompt_version="v2", input_hash=f"{item.id:064x}")

    async def fallback(self, item, reason):
        return await self.summarize(item)


async def main() -> None:
    repo = SqlRepository(engine_module.create_engine(URL), owns_engine=True)
    day = date(2026, 6, 3)
    items = [
        Item(source="hf_daily", external_id=f"2606.{n:05d}", kind=ItemKind.PAPER, title=f"Sparse attention {n}",
             url=f"https://huggingface.co/papers/2606.{n:05d}", day=day)
        for n in range(ITEMS)
    ]
    stored = [s.value for s in await repo.add_items(items)]
    attempts = successes = 0
    longest = 0.0
    transactions = [0.0]
    failures: list[str] = []
    done = asyncio.Event()

    @event.listens_for(repo._engine.sync_engine, "begin")
    def _begin(conn) -> None:
        if not conn.get_execution_options().get("paperbot_read_only", False):
            conn.info["began"] = time.perf_counter()

    @event.listens_for(repo._engine.sync_engine, "commit")
    def _commit(conn) -> None:
        began = conn.info.pop("began", None)
        if began is not None:
            transactions[0] = max(transactions[0], time.perf_counter() - began)

    async def timed(write) -> None:
        nonlocal attempts, successes, longest
        attempts += 1
        started = time.perf_counter()
        try:
            result = await write
            successes += 1
            return result
        except StoreError as exc:
            failures.append(str(exc)[:160])
            raise
        finally:
            longest = max(longest, time.perf_counter() - started)

    def timing(method):
        return lambda *args, **kwargs: timed(method(*args, **kwargs))

    # Every write the summariser makes, whichever it is (one summary per call, or a batch per call).
    for name in ("add_summary", "add_summaries"):
        if hasattr(repo, name):
            setattr(repo, name, timing(getattr(repo, name)))

    async def summariser() -> None:
        try:
            await summarize_pending(repo, Summarizer(), concurrency=WRITERS)
        except StoreError:
            pass  # counted in ``failures`` by ``timed``

    async def voter(n: int) -> None:
        k = 0
        while not done.is_set():
            k += 1
            try:
                await timed(repo.add_vote(Vote(platform="slack", message_id=f"{n}.{k}", voter_hash=f"v{n}",
                                               emoji="+1", value=1, channel_id="C1", item_id=stored[k % ITEMS].id)))
            except StoreError:
                pass
            await asyncio.sleep(0.01)

    async def reader() -> None:
        while not done.is_set():
            await repo.search_items("어텐션", limit=5)
            await repo.search_items("sparse attention", limit=5)

    async def busy_loop() -> None:
        while not done.is_set():
            until = time.perf_counter() + 0.05
            while time.perf_counter() < until:
                pass
            await asyncio.sleep(0)

    background = [asyncio.create_task(c) for c in (voter(1), voter(2), reader(), reader(), busy_loop())]
    await summariser()
    # A summariser that failed may leave workers running (versions whose error ends the run): let them finish.
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and t not in background]
    await asyncio.gather(*others, return_exceptions=True)
    done.set()
    await asyncio.gather(*background)
    summarised = ITEMS - len(await repo.items_without_summary())
    await repo.close()
    print(json.dumps({"attempts": attempts, "successes": successes, "longest": longest, "failures": failures[:3],
                      "summarised": summarised, "transaction": transactions[0]}))


ensure_schema(URL)
asyncio.run(main())
"""


def _run_pool(directory: Path, busy_timeout_ms: int, pythonpath: str | None) -> dict[str, Any]:
    directory.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    url = f"sqlite+aiosqlite:///{directory / 'pool.db'}"
    command = [sys.executable, "-c", _POOL_WORKER, url, str(busy_timeout_ms)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)  # noqa: S603
    if done.returncode != 0:
        failed = [done.stderr.strip()[-600:]]
        return {"attempts": 0, "successes": 0, "longest": 0.0, "failures": failed, "summarised": 0, "transaction": 0.0}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--burners", type=int, default=3)
    parser.add_argument("--before-runs", type=int, default=3)
    parser.add_argument("--baseline", default="0661c8a", help="revision of the code before the fix (main)")
    parser.add_argument("--pool-runs", type=int, default=3)
    parser.add_argument("--pool-baseline", default="d8bf0da", help="revision before the writer queue (main)")
    parser.add_argument(
        "--pool-queue-baseline", default="f40b6d2", help="revision with the queue, one commit per summary (main)"
    )
    parser.add_argument("--pool-busy-timeout-ms", type=int, default=500)
    args = parser.parse_args()
    results: dict[str, list[RunResult]] = {"fallback": [], "kiwi": [], "before": []}
    pools: dict[str, list[dict[str, Any]]] = {"pool": [], "pool-queue": [], "pool-before": []}
    with tempfile.TemporaryDirectory(prefix="bench_load_") as tmp:
        root = Path(tmp)
        before_path = _extract(args.baseline, root / "before") if args.before_runs else None
        pool_before_path = _extract(args.pool_baseline, root / "pool-before") if args.pool_runs else None
        pool_queue_path = _extract(args.pool_queue_baseline, root / "pool-queue") if args.pool_runs else None
        print(f"{os.cpu_count()} CPUs; {_load()} before the burners", flush=True)
        with source_server() as base, fake_slack() as fake, burners(args.burners) as pids:
            print(f"{len(pids)} burners: PIDs {pids}", flush=True)
            time.sleep(2)
            for n in range(args.runs):
                plan = [("fallback", "fallback", None), ("kiwi", "kiwi", None)]
                if before_path is not None and n < args.before_runs:
                    plan.append(("before", None, before_path))
                for name, analyzer, path in plan:
                    result = run_digest(root / f"{name}-{n}", fake, base, search_analyzer=analyzer, pythonpath=path)
                    results[name].append(result)
                    status = "ok" if result.ok else f"FAILED (exit {result.exit_code})"
                    print(f"round {n + 1} {name:8} {status:18} {result.seconds:6.1f} s  posts {result.posts}  {_load()}",
                          flush=True)  # fmt: skip
                    if not result.ok:
                        print("   " + result.detail.strip().replace("\n", "\n   ")[-1200:], flush=True)
                if n < args.pool_runs:
                    for name, pool_path in (
                        ("pool", None), ("pool-queue", pool_queue_path), ("pool-before", pool_before_path)
                    ):  # fmt: skip
                        pool = _run_pool(root / f"{name}-{n}", args.pool_busy_timeout_ms, pool_path)
                        pools[name].append(pool)
                        print(f"round {n + 1} {name:11} writes {pool['successes']}/{pool['attempts']}  summaries "
                              f"{pool['summarised']}/120  longest wait {float(pool['longest']):.2f} s  longest "
                              f"transaction {float(pool['transaction']):.2f} s  {pool['failures'][:1]}  {_load()}",
                              flush=True)  # fmt: skip
    print()
    for name, runs in results.items():
        if not runs:
            continue
        times = [r.seconds for r in runs if r.ok]
        spread = f"median {statistics.median(times):.1f} s, range {min(times):.1f}-{max(times):.1f} s" if times else ""
        print(f"{name:8} {sum(r.ok for r in runs)}/{len(runs)} succeeded  {spread}")
    for name, pool_runs in pools.items():
        if not pool_runs:
            continue
        waits = [float(p["longest"]) for p in pool_runs]
        holds = [float(p["transaction"]) for p in pool_runs]
        writes = sum(int(p["successes"]) for p in pool_runs), sum(int(p["attempts"]) for p in pool_runs)
        summarised = sum(int(p["summarised"]) for p in pool_runs)
        print(
            f"{name:11} writes {writes[0]}/{writes[1]} succeeded in {len(pool_runs)} runs, summaries stored "
            f"{summarised}/{120 * len(pool_runs)}, longest write wait median {statistics.median(waits):.2f} s, "
            f"range {min(waits):.2f}-{max(waits):.2f} s; longest write transaction median "
            f"{statistics.median(holds):.2f} s, range {min(holds):.2f}-{max(holds):.2f} s "
            f"(busy timeout {args.pool_busy_timeout_ms} ms)"
        )


if __name__ == "__main__":
    main()
