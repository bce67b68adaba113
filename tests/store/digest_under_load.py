"""``paperbot digest`` to a fake Slack on a fresh SQLite database, with CPU-burning processes beside it (issue 16).

Shared by ``tests/store/test_digest_under_load.py`` (marked slow) and ``bench/bench_load.py``. Each run is the real
CLI in its own process: collect from local servers (a real HF Daily Papers day and two real Korean blog feeds from
tests/data/sources), summarise offline (Korean bullets, each indexed for search), build, post to the fake Slack
Web API of tests/platforms/slack. Burners are ``python3 -c 'while True: pass'`` processes started here and killed
by their PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.platforms.slack.fake_api import BOT_TOKEN, FakeSlack, running_fake_slack

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "sources"
DAY = date(2026, 6, 3)
CHANNEL = "C0LOADTEST"
HF_BODY = (DATA / "hf" / f"{DAY.isoformat()}.json").read_bytes()
FEEDS = {"/kakao.xml": "kakao_tech_rss.xml", "/d2.xml": "naver_d2_atom.xml"}
#: What every run must post: the header and one message per paper of the day (tests/data/sources/hf/2026-06-03.json).
MIN_POSTS = 1 + 8


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/api/daily_papers":
            body, kind = HF_BODY, "application/json"
        elif path in FEEDS:
            body, kind = (DATA / "feeds" / FEEDS[path]).read_bytes(), "application/xml"
        else:
            body, kind = b"[]", "application/json"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@contextlib.contextmanager
def source_server() -> Iterator[str]:
    """HF's ``/api/daily_papers`` and the two feeds on 127.0.0.1; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def fake_slack() -> Iterator[FakeSlack]:
    """The fake Slack Web API on its own event loop in a thread (the CLI under test is another process)."""
    ready = threading.Event()
    stop: asyncio.Event | None = None
    holder: dict[str, Any] = {}

    async def serve() -> None:
        nonlocal stop
        stop = asyncio.Event()
        async with running_fake_slack() as fake:
            holder["fake"] = fake
            holder["loop"] = asyncio.get_running_loop()
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("the fake Slack did not start")
    try:
        yield holder["fake"]
    finally:
        assert stop is not None
        holder["loop"].call_soon_threadsafe(stop.set)
        thread.join(10)


@contextlib.contextmanager
def burners(count: int) -> Iterator[list[int]]:
    """``count`` processes spinning on the CPU; killed by their PID afterwards."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield [proc.pid for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait(10)


def write_config(directory: Path, sources_base: str, *, search_analyzer: str | None = "fallback") -> Path:
    """A paperbot.toml: HF and two Korean feeds on the local server, every other built-in source off
    (``search_analyzer`` None: the setting left out, for a paperbot from before it existed)."""
    from paperbot.sources.registry import BUILTIN_SOURCES

    lines = [f'hf_base_url = "{sources_base}"', "allow_private_networks = true", "http_host_interval = 0"]
    if search_analyzer is not None:
        lines.append(f'search_analyzer = "{search_analyzer}"')
    local = {"kakao_tech": "/kakao.xml", "naver_d2": "/d2.xml"}
    for spec in BUILTIN_SOURCES:
        if spec.type == "hf_daily":
            continue
        lines.append("[[sources]]")
        lines.append(f'name = "{spec.name}"')
        if spec.name in local:
            lines.append(f'url = "{sources_base}{local[spec.name]}"')
        else:
            lines.append("enabled = false")
    path = directory / "paperbot.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class RunResult:
    ok: bool
    seconds: float
    posts: int
    exit_code: int
    detail: str


def run_digest(
    directory: Path,
    fake: FakeSlack,
    sources_base: str,
    *,
    search_analyzer: str | None = "fallback",
    pythonpath: str | None = None,
    timeout: float = 600,
    channel: str = CHANNEL,
) -> RunResult:
    """One ``paperbot digest --to slack:…`` on a fresh SQLite database in ``directory`` (``pythonpath``: run
    another copy of paperbot's sources, e.g. the code before a fix, for a baseline). Runs side by side each need
    their own ``channel``: posts are counted per channel."""
    directory.mkdir(parents=True, exist_ok=True)
    config = write_config(directory, sources_base, search_analyzer=search_analyzer)

    def posted() -> int:
        return sum(1 for call in fake.called("chat.postMessage") if call.params.get("channel") == channel)

    before = posted()
    env = {
        **os.environ,
        "PAPERBOT_CONFIG": str(config),
        "PAPERBOT_DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'paperbot.db'}",
        "PAPERBOT_SLACK_BOT_TOKEN": BOT_TOKEN,
        "PAPERBOT_SLACK_API_BASE": fake.base,
        "PAPERBOT_LOG_LEVEL": "WARNING",
        "PAPERBOT_LOG_FORMAT": "text",
    }
    env.pop("PAPERBOT_DISCORD_TOKEN", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    args = [sys.executable, "-m", "paperbot", "digest", "--date", DAY.isoformat(), "--to", f"slack:{channel}"]
    start = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, check=False, cwd=directory)
    seconds = time.perf_counter() - start
    posts = posted() - before
    ok = done.returncode == 0 and posts >= MIN_POSTS and "게시했습니다" in done.stdout
    detail = "" if ok else (done.stdout[-800:] + "\n" + done.stderr[-1500:])
    return RunResult(ok=ok, seconds=seconds, posts=posts, exit_code=done.returncode, detail=detail)
