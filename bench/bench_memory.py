"""Peak RSS of a real ``paperbot run`` process after a day's work (issue 16). Target: <= 250 MB.

Each round starts ``python -X importtime -m paperbot run`` (a real process: the CLI, SQLite, the web archive with
/healthz on a free port) against the local servers of bench/paperbot_day.py and gives it a day's work: the start-up
catch-up digest (a real HF day and two Korean feeds collected, Korean LLM summaries from the fake ``openai_compat``
server, indexed, posted to the fake Slack Web API), then Korean and English searches, the front page, a day page
and /metrics through the web archive. Then VmHWM (peak RSS) and VmRSS are read from /proc/<pid>/status and the
process is stopped with SIGTERM. ``-X importtime`` lists every module it imported (stderr), so the report says which
big packages a configuration loads; it costs time, not memory.

The baseline, in the same run: VmHWM of ``python -c "import paperbot.cli"`` (the interpreter and the CLI's own
imports). Configurations: the default (``search_analyzer = "fallback"``, ``summary_endings = "rules"``), and, with
kiwipiepy installed, ``search_analyzer = "kiwi"`` and ``summary_endings = "kiwi"``. ``--explain`` adds the peak RSS
of importing each big package alone in a fresh interpreter, over bare Python.

    .venv/bin/python bench/bench_memory.py [--rounds 3] [--configs default search-kiwi endings-kiwi] [--explain]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.paperbot_day import CHANNEL, QUERIES, Servers, environment, load_average, servers  # noqa: E402

TARGET_MB = 250.0
CONFIGS = {
    "default": {"search_analyzer": "fallback", "summary_endings": "rules"},
    "search-kiwi": {"search_analyzer": "kiwi", "summary_endings": "rules"},
    "endings-kiwi": {"search_analyzer": "fallback", "summary_endings": "kiwi"},
}
#: Packages worth naming when loaded (the big ones, and the optional ones a configuration may avoid).
WATCHED = (
    "kiwipiepy",
    "discord",
    "slack_bolt",
    "slack_sdk",
    "sqlalchemy",
    "alembic",
    "aiosqlite",
    "httpx",
    "aiohttp",
    "feedparser",
    "lxml",
    "bs4",
    "trafilatura",
    "apscheduler",
    "prometheus_client",
    "jinja2",
    "pydantic",
    "orjson",
    "rich",
    "pygments",
    "trio",
)


def _status_kb(pid: int | str, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no {field} in /proc/{pid}/status")
    return int(match.group(1))


def _python_peak_mb(code: str) -> float:
    """VmHWM of a fresh interpreter that runs ``code``, in MB."""
    probe = f"{code}\nimport re\nprint(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)  # noqa: S603
    return int(done.stdout.split()[-1]) / 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(port: int, path: str) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
        response.read()
        return int(response.status)


def _digest_done(database: Path) -> bool:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as connection:
            row = connection.execute(
                "SELECT status FROM digest_runs WHERE target = ? ORDER BY day DESC LIMIT 1", (f"slack:{CHANNEL}",)
            ).fetchone()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == "done"


def _imported(stderr: str) -> set[str]:
    """Top-level packages named by ``-X importtime`` lines (``import time: self | cumulative | name``)."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name and name != "package":
                names.add(name.split(".", 1)[0])
    return names


def _round(directory: Path, where: Servers, config: dict[str, str]) -> dict[str, Any]:
    directory.mkdir(parents=True)
    env = environment(directory, where, **config)
    port = _free_port()
    env["PAPERBOT_HTTP_PORT"] = str(port)
    before = where.posts()
    connections = len(where.slack.called("apps.connections.open"))
    log = (directory / "run.log").open("w+")
    command = [sys.executable, "-X", "importtime", "-m", "paperbot", "run"]
    process = subprocess.Popen(command, cwd=directory, env=env, stdout=log, stderr=log, text=True)  # noqa: S603
    started = time.monotonic()
    try:
        while not _digest_done(directory / "paperbot.db"):
            if process.poll() is not None or time.monotonic() - started > 600:
                raise RuntimeError(f"paperbot run ended or hung before the digest: {_tail(log)}")
            time.sleep(0.2)
        digest_seconds = time.monotonic() - started
        for query in (*QUERIES, "reinforcement learning", "distillation"):
            assert _get(port, "/search?q=" + urllib.parse.quote(query)) == 200
        for path in ("/", "/metrics", "/healthz", "/search?q=" + urllib.parse.quote(QUERIES[0]) + "&page=2"):
            assert _get(port, path) == 200
        time.sleep(0.5)
        peak, rss = _status_kb(process.pid, "VmHWM"), _status_kb(process.pid, "VmRSS")
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    text = _tail(log, everything=True)
    log.close()
    return {
        "peak_mb": peak / 1024,
        "rss_mb": rss / 1024,
        "exit": code,
        "digest_s": digest_seconds,
        "posts": where.posts() - before,
        "socket_mode": len(where.slack.called("apps.connections.open")) - connections,
        "imported": sorted(_imported(text)),
    }


def _tail(log: Any, *, everything: bool = False) -> str:
    log.flush()
    log.seek(0)
    text = str(log.read())
    return text if everything else "\n".join(line for line in text.splitlines() if "import time:" not in line)[-3000:]


def _spread(values: list[float]) -> str:
    return f"median {statistics.median(values):6.1f}  range {min(values):6.1f}-{max(values):6.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--explain", action="store_true", help="peak RSS of each big package imported alone")
    args = parser.parse_args()
    configs = [c for c in args.configs if c == "default" or importlib.util.find_spec("kiwipiepy") is not None]
    peaks: dict[str, list[float]] = {name: [] for name in configs}
    baselines: list[float] = []
    print(f"{os.cpu_count()} CPUs; {load_average()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp, servers() as where:
        for n in range(args.rounds):
            baseline = _python_peak_mb("import paperbot.cli")
            baselines.append(baseline)
            print(f"round {n + 1} baseline (import paperbot.cli) peak {baseline:6.1f} MB", flush=True)
            for name in configs:
                result = _round(Path(tmp) / f"{name}-{n}", where, CONFIGS[name])
                peaks[name].append(result["peak_mb"])
                watched = [pkg for pkg in WATCHED if pkg in result["imported"]]
                print(
                    f"round {n + 1} {name:12} peak {result['peak_mb']:6.1f} MB  rss at the end {result['rss_mb']:6.1f} MB"
                    f"  ratio {result['peak_mb'] / baseline:4.1f}  digest after {result['digest_s']:5.1f} s"
                    f"  posts {result['posts']}  Socket Mode connections {result['socket_mode']}  exit {result['exit']}"
                    f"  {load_average()}",
                    flush=True,
                )
                print(f"        loaded: {', '.join(watched)}  ({len(result['imported'])} top-level packages)")
                missing = [pkg for pkg in ("kiwipiepy", "discord", "slack_bolt", "trafilatura") if pkg not in watched]
                print(f"        not loaded: {', '.join(missing)}", flush=True)
    print()
    print(f"baseline     peak (MB) {_spread(baselines)}")
    for name, values in peaks.items():
        verdict = "ok" if statistics.median(values) <= TARGET_MB else f"OVER {TARGET_MB:.0f} MB"
        ratios = [peak / base for peak, base in zip(values, baselines, strict=True)]
        print(f"{name:12} peak (MB) {_spread(values)}  ratio {_spread(ratios)}  {verdict}")
    if args.explain:
        bare = _python_peak_mb("pass")
        print(f"\npeak RSS of one package imported alone, over bare Python ({bare:.1f} MB):")
        for pkg in WATCHED:
            if importlib.util.find_spec(pkg) is None:
                continue
            code = f"import {pkg}"
            if pkg == "kiwipiepy":
                code += "\nfrom paperbot import korean\nkorean.kiwi()"  # the model as paperbot loads it
            print(f"  {pkg:18} +{_python_peak_mb(code) - bare:6.1f} MB", flush=True)
    print(f"{load_average()} at the end")


if __name__ == "__main__":
    main()
