"""A day of ``paperbot run`` against local servers, shared by ``bench_loop.py`` and ``bench_memory.py`` (issue 16).

The benches' parent process serves everything the bot reaches, so the measured process (a fresh ``paperbot run``
or its loop in a child) only runs paperbot:

- HF Daily Papers: the real day of tests/data/sources/hf/2026-06-03.json, its dates moved to the requested day (the
  bot asks for yesterday's papers, and the fixture is of a fixed day), and two real Korean blog feeds (Kakao, D2)
  whose links point here too, where every post's page is a real blog post (tests/data/articles): nothing leaves
  the machine;
- an OpenAI-compatible LLM (tests/summarize/fake_llm.py) answering every paper with three Korean bullets, the
  second in gpt-4o-mini's note style so the ending repair runs, after ``LLM_LATENCY`` seconds;
- the fake Slack Web API of tests/platforms/slack (the digest is posted there; the Slack app connects to its
  Socket Mode websocket, as a deployment with an app token does);
- a SQLite database with one Slack subscription whose slot was due an hour ago: the bot's start-up catch-up posts
  it (collect, LLM summaries, build, publish), as after a restart on a working day.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.store.digest_under_load import fake_slack  # noqa: E402
from tests.summarize.fake_llm import FakeLLMServer, Reply, openai_bullets  # noqa: E402

DATA = ROOT / "tests" / "data" / "sources"
FIXTURE_DAY = "2026-06-03"
HF_BODY = (DATA / "hf" / f"{FIXTURE_DAY}.json").read_text(encoding="utf-8")
FEEDS = {"/kakao.xml": "kakao_tech_rss.xml", "/d2.xml": "naver_d2_atom.xml"}
#: The feeds' own hosts, moved onto the local server: the bot fetches each shown post's page (``article_fetch``).
FEED_HOSTS = {"https://tech.kakao.com": "/kakao", "https://d2.naver.com": "/d2"}
#: The page served for every post (a real blog post, tests/data/articles).
ARTICLE = (ROOT / "tests" / "data" / "articles" / "lilianweng_hallucination.html").read_bytes()
CHANNEL = "C0BENCHDAY"
LLM_LATENCY = 0.2
#: The papers of the fixture day: the digest posts a header and one message for each.
PAPERS = len(json.loads(HF_BODY))
#: Korean queries a team would type: the first one arrives while the bot is starting.
QUERIES = ("언어 모델 증류", "강화학습 에이전트", "멀티모달 추론 벤치마크")
BULLETS = [
    "이 논문은 언어 모델의 학습을 안정적으로 만드는 새로운 방법을 제안합니다.",
    "여러 벤치마크에서 기존 방법보다 좋은 성능을 보임",  # note style: the ending repair makes it formal
    "제안한 방법은 추가 비용이 적어 실제 환경에 쉽게 적용할 수 있습니다.",
]


class _SourceHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/api/daily_papers":
            day = parse_qs(url.query).get("date", [FIXTURE_DAY])[0]
            page = parse_qs(url.query).get("p", ["0"])[0]
            # One page of papers (a later page is empty, as HF's API answers past the end).
            text = HF_BODY.replace(FIXTURE_DAY, day) if page == "0" else "[]"
            body, kind = text.encode(), "application/json"
        elif url.path in FEEDS:
            text = (DATA / "feeds" / FEEDS[url.path]).read_text(encoding="utf-8")
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            for host, prefix in FEED_HOSTS.items():
                text = text.replace(host, base + prefix)
            body, kind = text.encode(), "application/xml"
        elif url.path.startswith(tuple(f"{prefix}/" for prefix in FEED_HOSTS.values())):
            body, kind = ARTICLE, "text/html; charset=utf-8"
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@contextlib.contextmanager
def _source_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SourceHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _llm_script(body: dict[str, Any], attempt: int) -> Reply:
    return Reply(body=openai_bullets(BULLETS), delay=LLM_LATENCY)


@contextlib.contextmanager
def _llm_server() -> Iterator[str]:
    server = FakeLLMServer(_llm_script)  # Reply.delay: the model's latency
    server.start()
    try:
        yield f"{server.url}/v1"
    finally:
        server.stop()


class Servers:
    """Base URLs of the local servers, and the fake Slack to count posts."""

    def __init__(self, sources: str, llm: str, slack: Any) -> None:
        self.sources = sources
        self.llm = llm
        self.slack = slack

    def posts(self, channel: str = CHANNEL) -> int:
        return sum(1 for call in self.slack.called("chat.postMessage") if call.params.get("channel") == channel)


@contextlib.contextmanager
def servers() -> Iterator[Servers]:
    """HF + feeds, the LLM and Slack on 127.0.0.1 (threads of this process, which is not the one measured)."""
    with _source_server() as sources, _llm_server() as llm, fake_slack() as slack:
        yield Servers(sources, llm, slack)


def write_config(directory: Path, where: Servers, *, search_analyzer: str, summary_endings: str) -> Path:
    """paperbot.toml: HF and the two feeds on the local server (every other built-in source off), the LLM."""
    from paperbot.sources.registry import BUILTIN_SOURCES

    lines = [
        f'hf_base_url = "{where.sources}"',
        "allow_private_networks = true",
        "http_host_interval = 0",
        f'search_analyzer = "{search_analyzer}"',
        f'summary_endings = "{summary_endings}"',
        'llm_provider = "openai_compat"',
        f'llm_base_url = "{where.llm}"',
        'llm_model = "gpt-4o-mini"',
        'llm_api_key = "sk-bench"',
    ]
    local = {"kakao_tech": "/kakao.xml", "naver_d2": "/d2.xml"}
    for spec in BUILTIN_SOURCES:
        if spec.type == "hf_daily":
            continue
        lines += ["[[sources]]", f'name = "{spec.name}"']
        lines.append(f'url = "{where.sources}{local[spec.name]}"' if spec.name in local else "enabled = false")
    path = directory / "paperbot.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def prepare(directory: Path) -> str:
    """A fresh SQLite database at the schema head with the Slack subscription whose slot was due an hour ago."""
    from paperbot.domain import Subscription
    from paperbot.store.engine import create_engine
    from paperbot.store.migrate import ensure_schema
    from paperbot.store.sql import SqlRepository

    url = f"sqlite+aiosqlite:///{directory / 'paperbot.db'}"
    problem = ensure_schema(url)
    if problem:
        raise RuntimeError(problem)
    due = datetime.now(UTC) - timedelta(hours=1)

    async def seed() -> None:
        repository = SqlRepository(create_engine(url), owns_engine=True)
        try:
            await repository.save_subscription(
                Subscription(platform="slack", channel_id=CHANNEL, time=f"{due:%H:%M}", timezone="UTC")
            )
        finally:
            await repository.close()

    asyncio.run(seed())
    return url


def environment(directory: Path, where: Servers, *, search_analyzer: str, summary_endings: str) -> dict[str, str]:
    """The environment of a ``paperbot run`` in ``directory`` (a fresh database, the config, Slack's sender)."""
    from tests.platforms.slack.fake_api import APP_TOKEN, BOT_TOKEN

    config = write_config(directory, where, search_analyzer=search_analyzer, summary_endings=summary_endings)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    env.update(
        {
            "PAPERBOT_CONFIG": str(config),
            "PAPERBOT_DATABASE_URL": prepare(directory),
            "PAPERBOT_SLACK_BOT_TOKEN": BOT_TOKEN,
            "PAPERBOT_SLACK_APP_TOKEN": APP_TOKEN,  # the Slack app in Socket Mode, on the fake's websocket
            "PAPERBOT_SLACK_API_BASE": where.slack.base,
            "PAPERBOT_LOG_LEVEL": "WARNING",
            "PAPERBOT_LOG_FORMAT": "text",
        }
    )
    return env


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"
