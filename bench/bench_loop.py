"""The longest event-loop stall of a freshly started ``paperbot run`` (issue 16). Target: <= 100 ms.

Each round is a fresh process (a real cold start) that does what ``paperbot run`` does, with its own code: the
imports, settings, ``prepare_database`` and the HTTP socket before the loop, then on the loop ``build_app`` and
``paperbot.cli.run._main`` (leadership, the scheduler, the search warm-up, the web archive with /healthz), while
a ticker task sleeps 5 ms over and over and records how late it wakes. On that loop, meanwhile:

1. the first Korean ``/paper search`` right after start, through the command path (``service.commands.search``);
2. the start-up catch-up digest of a slot due an hour ago: a real HF day and two Korean feeds collected from a local
   server, Korean summaries from the ``openai_compat`` provider against a local fake LLM (0.2 s a request, one
   bullet in note style so the ending repair runs), indexed for search, posted to the fake Slack Web API;
3. three more Korean searches, now over the summaries; then SIGTERM, as a supervisor stops it.

(see bench/paperbot_day.py for the servers, which run in the parent process, not in the one measured). The
baseline, in the same process right after: the same ticker on an idle loop for as long as the day took.
Reported per round: the longest stall, p99, the baseline's longest, the ratio, and the phases of the worst stalls;
then the median and range over rounds, for the default analyser (``fallback``) and ``search_analyzer = "kiwi"``
(when kiwipiepy is installed). ``--debug`` runs the loop in asyncio debug mode and logs every callback slower than
50 ms with its source (slower: use it to find a stall, not to measure).

    .venv/bin/python bench/bench_loop.py [--rounds 5] [--analyzers fallback kiwi] [--endings rules] [--debug]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TICK = 0.005
TARGET_MS = 100.0


@dataclass
class Ticker:
    """Sleeps ``TICK`` over and over and records how late each wake-up is (what any other task would wait), with
    the phase the stall began in and when (loop time)."""

    phase: str = "start"
    #: time.monotonic() of the last wake-up, read by the sampler thread (``--sample``)
    beat: float = 0.0
    lateness: list[tuple[float, float]] = field(default_factory=list)
    worst: list[tuple[float, str, float]] = field(default_factory=list)
    running: bool = True

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.beat = time.monotonic()
        while self.running:
            phase, due = self.phase, loop.time() + TICK
            await asyncio.sleep(TICK)
            late = loop.time() - due
            self.beat = time.monotonic()
            self.lateness.append((late, due))
            if late > 0.02:
                self.worst.append((late, phase, due))

    def summary(self, began: float, serving_at: float | None = None) -> dict[str, Any]:
        """Longest stall and p99 over the whole loop; ``serving_ms``: the longest stall that began once /healthz
        first answered (``serving_at``, loop time)."""
        ordered = sorted(late for late, _ in self.lateness)
        top = sorted(self.worst, reverse=True)[:5]
        serving = [late for late, due in self.lateness if serving_at is not None and due >= serving_at]
        return {
            "max_ms": ordered[-1] * 1000,
            "p99_ms": ordered[int(0.99 * (len(ordered) - 1))] * 1000,
            "serving_ms": max(serving, default=0.0) * 1000,
            "serving_after": None if serving_at is None else serving_at - began,
            "ticks": len(ordered),
            "worst": [(round(late * 1000), phase, round(due - began, 2)) for late, phase, due in top],
        }


def _sample_stalls(ticker: Ticker, main_thread: int, samples: Counter[str], stop: threading.Event) -> None:
    """In a thread, a poor man's py-spy: while the loop has not ticked for 50 ms, note where the loop's thread is
    (its innermost paperbot frame and its innermost frame). C code that holds the GIL (Kiwi's load) shows as
    nothing at all: this thread cannot run then."""
    while not stop.wait(0.01):
        if ticker.beat and time.monotonic() - ticker.beat > 0.05:
            frame = sys._current_frames().get(main_thread)
            stack = traceback.extract_stack(frame) if frame is not None else []
            ours = [f for f in stack if "/paperbot/" in f.filename and "/bench/" not in f.filename]
            where = [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in (ours[-1:] + stack[-1:])]
            samples[" <- ".join(reversed(where)) + f" [{ticker.phase}]"] += 1


def _roots(names: set[str]) -> list[str]:
    """Packages (paperbot's own modules in full) among newly imported ``names``."""
    return sorted({name if name.startswith("paperbot") else name.split(".", 1)[0] for name in names})


def _watch_health(port: int, seen: list[float]) -> None:
    """In a thread: GET /healthz until it answers 200 and note when (``time.monotonic``, the loop's clock)."""
    import urllib.request

    while not seen:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                if response.status == 200:
                    seen.append(time.monotonic())
        except OSError:
            time.sleep(0.01)


# --- the measured process -------------------------------------------------------------------------------------


async def _day(settings: Any, http_socket: Any, debug: bool, sample: bool) -> dict[str, Any]:
    from paperbot.bootstrap import build_app
    from paperbot.cli import run as run_command
    from paperbot.domain import DigestKind, RunStatus
    from paperbot.service import commands

    loop = asyncio.get_running_loop()
    if debug:
        loop.set_debug(True)
        loop.slow_callback_duration = 0.05
    channel, queries, papers = os.environ["BENCH_CHANNEL"], json.loads(os.environ["BENCH_QUERIES"]), 0
    ticker = Ticker(phase="build_app")
    ticking = asyncio.create_task(ticker.run())
    await asyncio.sleep(0)
    began = loop.time()
    healthy: list[float] = []
    samples: Counter[str] = Counter()
    stop_sampling = threading.Event()
    if sample:
        threading.Thread(
            target=_sample_stalls, args=(ticker, threading.get_ident(), samples, stop_sampling), daemon=True
        ).start()
    threading.Thread(target=_watch_health, args=(http_socket.getsockname()[1], healthy), daemon=True).start()
    found: list[int] = []
    async with build_app(settings, print_digest=run_command._print_console) as app:
        ticker.phase = "start"
        main = asyncio.create_task(run_command._main(app, extra=[], catch_up=True, http_socket=http_socket))
        await asyncio.sleep(0)  # _main installs its signal handlers and starts its tasks
        caller = commands.Caller(platform="slack", channel_id=channel)
        before_search = set(sys.modules)
        ticker.phase = "first search"
        found.append(len((await commands.search(app.commands, caller, queries[0])).papers))
        ticker.phase = "digest"
        before_digest = set(sys.modules)
        while True:
            run = await app.repository.last_run(f"slack:{channel}", DigestKind.DAILY)
            if run is not None and run.status is RunStatus.DONE:
                break
            if loop.time() - began > 300 or main.done():
                raise SystemExit(f"the digest did not finish: {run}")
            await asyncio.sleep(0.1)
        ticker.phase = "searches"
        for query in queries:
            reply = await commands.search(app.commands, caller, query)
            found.append(len(reply.papers))
        papers = sum(app.runtime.stats.deliveries.values())
        summaries = dict(app.runtime.stats.summaries)
        ticker.phase = "stop"
        os.kill(os.getpid(), 15)  # SIGTERM: _main leaves its TaskGroup and releases the lease
        code = await main
    seconds = loop.time() - began
    ticker.running = False
    stop_sampling.set()
    await ticking
    return {
        "samples": samples.most_common(25),
        "imported_by_search": _roots(before_digest - before_search),
        "imported_later": _roots(set(sys.modules) - before_digest),
        **ticker.summary(began, healthy[0] if healthy else None),
        "seconds": seconds,
        "exit": code,
        "found": found,
        "chunks": papers,
        "summaries": summaries,
        "kiwi": "kiwipiepy" in sys.modules,
    }


async def _idle(seconds: float) -> dict[str, Any]:
    ticker = Ticker(phase="idle")
    ticking = asyncio.create_task(ticker.run())
    await asyncio.sleep(seconds)
    ticker.running = False
    await ticking
    return ticker.summary(0.0)


def child(debug: bool, sample: bool) -> None:
    """One cold start, as ``paperbot run`` does it (``paperbot.cli.common.run_app``); prints one JSON line."""
    started = time.perf_counter()
    import paperbot.cli  # noqa: F401 (the console script's own import)
    from paperbot.bootstrap import prepare_database
    from paperbot.cli import run as run_command
    from paperbot.config import load_settings
    from paperbot.logs import configure_logging
    from paperbot.web.server import bind

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    if debug:
        import logging

        logging.getLogger("asyncio").setLevel(logging.WARNING)
    http_socket = bind("127.0.0.1", 0)
    prepare = getattr(run_command, "prepare_before_loop", None)  # absent in a --baseline before it
    if prepare is not None:
        prepare(settings)
    problem = prepare_database(settings)  # what run_app does next, then asyncio.run
    if problem:
        raise SystemExit(problem)
    before_loop = time.perf_counter() - started
    day = asyncio.run(_day(settings, http_socket, debug, sample))
    idle = asyncio.run(_idle(day["seconds"]))
    print(json.dumps({"day": day, "idle": idle, "before_loop": before_loop}))


# --- the parent -----------------------------------------------------------------------------------------------


def _extract(revision: str, into: Path) -> str:
    """``src/`` of ``revision`` under ``into`` (``git archive``); returns the directory to put on PYTHONPATH."""
    import tarfile

    into.mkdir(parents=True, exist_ok=True)
    archive = into / "src.tar"
    with archive.open("wb") as out:
        git = ["git", "-C", str(Path(__file__).resolve().parent.parent), "archive", revision, "src"]
        subprocess.run(git, stdout=out, check=True)  # noqa: S603 (a revision named on our own command line)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return str(into / "src")


def _round(
    root: Path, where: Any, analyzer: str, endings: str, *, debug: bool, sample: bool, src: str | None = None
) -> dict[str, Any]:
    from bench.paperbot_day import CHANNEL, QUERIES, environment

    root.mkdir(parents=True)
    env = environment(root, where, search_analyzer=analyzer, summary_endings=endings)
    env.update({"BENCH_CHANNEL": CHANNEL, "BENCH_QUERIES": json.dumps(QUERIES, ensure_ascii=False)})
    src = src or str(Path(__file__).resolve().parent.parent / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    before = where.posts()
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        *(["--debug"] if debug else []),
        *(["--sample"] if sample else []),
    ]
    done = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True, timeout=900, check=False)  # noqa: S603
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"round failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    if debug:
        print("\n".join(line for line in done.stderr.splitlines() if "took" in line or "Executing" in line))
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["posts"] = where.posts() - before
    return result


def _spread(values: list[float]) -> str:
    return f"median {statistics.median(values):7.1f}  range {min(values):7.1f}-{max(values):7.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--analyzers", nargs="*", default=["fallback", "kiwi"])
    parser.add_argument("--endings", default="rules", choices=["rules", "kiwi"], help="summary_endings")
    parser.add_argument("--debug", action="store_true", help="asyncio debug mode: log callbacks slower than 50 ms")
    parser.add_argument("--baseline", metavar="REV", help="also run the code of REV (e.g. main) each round")
    parser.add_argument("--sample", action="store_true", help="print where the loop's thread is during stalls")
    args = parser.parse_args()
    if args.child:
        child(args.debug, args.sample)
        return
    import importlib.util

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.paperbot_day import load_average, servers

    analyzers = [a for a in args.analyzers if a != "kiwi" or importlib.util.find_spec("kiwipiepy") is not None]
    plan = [(name, name, None) for name in analyzers]
    if args.baseline:
        plan += [(f"{name}@{args.baseline}", name, args.baseline) for name in analyzers]
    results: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in plan}
    print(f"{os.cpu_count()} CPUs; {load_average()}; summary_endings = {args.endings}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_loop_") as tmp, servers() as where:
        before = _extract(args.baseline, Path(tmp) / "baseline") if args.baseline else None
        for n in range(args.rounds):
            for label, analyzer, revision in plan:
                directory = Path(tmp) / f"{label}-{n}"
                src = before if revision else None
                result = _round(directory, where, analyzer, args.endings, debug=args.debug, sample=args.sample, src=src)
                results[label].append(result)
                day, idle = result["day"], result["idle"]
                print(
                    f"round {n + 1} {label:8} stall max {day['max_ms']:7.1f} ms  p99 {day['p99_ms']:5.1f} ms  "
                    f"serving max {day['serving_ms']:6.1f} ms (healthy at {day['serving_after']:.2f} s)  "
                    f"idle max {idle['max_ms']:5.1f} ms  ratio {day['serving_ms'] / idle['max_ms']:6.1f}  "
                    f"day {day['seconds']:5.1f} s  posts {result['posts']}  found {day['found']}  "
                    f"summaries {day['summaries']}  kiwi loaded {day['kiwi']}  {load_average()}",
                    flush=True,
                )
                print(f"        worst stalls (ms, phase, s after start): {day['worst']}", flush=True)
                if args.sample:
                    print(f"        imported by the first search: {day['imported_by_search']}")
                    print(f"        imported after it: {day['imported_later']}")
                for where_, count in day["samples"]:
                    print(f"        {count:4} x 10 ms  {where_}", flush=True)
    print()
    for analyzer, runs in results.items():
        stalls = [r["day"]["max_ms"] for r in runs]
        serving = [r["day"]["serving_ms"] for r in runs]
        p99 = [r["day"]["p99_ms"] for r in runs]
        idle = [r["idle"]["max_ms"] for r in runs]
        ratios = [r["day"]["serving_ms"] / r["idle"]["max_ms"] for r in runs]
        verdict = "ok" if statistics.median(serving) <= TARGET_MS else f"OVER {TARGET_MS:.0f} ms"
        print(f"{analyzer:8} longest stall (ms) {_spread(stalls)}   (from the loop's first moment)")
        print(f"{'':8} ... once serving   {_spread(serving)}   {verdict}")
        print(f"{'':8} p99 (ms)           {_spread(p99)}")
        print(f"{'':8} idle longest (ms)  {_spread(idle)}")
        print(f"{'':8} ratio serving/idle {_spread(ratios)}")
    print(f"{load_average()} at the end")


if __name__ == "__main__":
    main()
