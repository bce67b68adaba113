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

    .venv/bin/python bench/bench_load.py [--runs 10] [--burners 3] [--before-runs 3] [--baseline REV]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

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


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--burners", type=int, default=3)
    parser.add_argument("--before-runs", type=int, default=3)
    parser.add_argument("--baseline", default="0661c8a", help="revision of the code before the fix (main)")
    args = parser.parse_args()
    results: dict[str, list[RunResult]] = {"fallback": [], "kiwi": [], "before": []}
    with tempfile.TemporaryDirectory(prefix="bench_load_") as tmp:
        root = Path(tmp)
        before_path = _extract(args.baseline, root / "before") if args.before_runs else None
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
    print()
    for name, runs in results.items():
        if not runs:
            continue
        times = [r.seconds for r in runs if r.ok]
        spread = f"median {statistics.median(times):.1f} s, range {min(times):.1f}-{max(times):.1f} s" if times else ""
        print(f"{name:8} {sum(r.ok for r in runs)}/{len(runs)} succeeded  {spread}")


if __name__ == "__main__":
    main()
