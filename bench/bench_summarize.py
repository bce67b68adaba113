"""Summarise 50 papers against a local fake LLM with a fixed latency; print wall time / ideal.

The ideal is ``ceil(50 / concurrency) × latency``: what perfectly packed rounds of ``concurrency`` requests would
take. The ratio shows our overhead (prompt, gate, cache lookups, usage records, HTTP) on top of the model's own
latency. Target: <= 1.15. Run: ``.venv/bin/python bench/bench_summarize.py [--latency 0.2] [--papers 50]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from paperbot.config import Settings
from paperbot.domain import Item, ItemKind
from paperbot.httpclient import make_http_client
from paperbot.service.summarize import summarize_pending
from paperbot.store.memory import InMemoryRepository
from paperbot.summarize.llm import OpenAICompatSummarizer

ABSTRACT = (
    "Key-Value (KV) cache has become a bottleneck of LLMs for long-context generation. "
    "We propose SCOPE, a framework that separately optimizes the KV cache during the prefill and decoding phases. "
    "On LongGenBench with 2M tokens, SCOPE reduces memory by 35% across five tasks."
)
BULLETS = {
    # Already "~니다.": the gate only judges.
    "formal": [
        "KV 캐시는 긴 문맥 생성에서 LLMs의 병목이 되었습니다.",
        "SCOPE는 프리필 단계와 디코딩 단계의 KV 캐시를 따로 최적화하는 프레임워크입니다.",
        "LongGenBench에서 200만 개 토큰 조건으로 메모리 사용량을 35% 줄였습니다.",
    ],
    # The note style of gpt-4o-mini: every ending is repaired (Kiwi when installed) before judging.
    "note": [
        "KV 캐시가 긴 문맥 생성에서 LLMs의 병목이 됨",
        "프리필 단계와 디코딩 단계의 KV 캐시를 따로 최적화하는 SCOPE 프레임워크 도입",
        "LongGenBench에서 200만 개 토큰 조건으로 메모리 사용량을 35% 줄임.",
    ],
}


def answer(style: str) -> dict[str, Any]:
    content = json.dumps({"bullets": BULLETS[style]}, ensure_ascii=False)
    return {
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}},
        ],
        "usage": {"prompt_tokens": 900, "completion_tokens": 200},
    }


def serve(latency: float, style: str, port_queue: Any) -> None:
    """The fake LLM, in its own process (as a real server is), so it does not compete with us for the GIL."""
    body = json.dumps(answer(style)).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # One buffered write per response and no Nagle: otherwise delayed ACKs add ~40 ms per request, which is
        # the fake server's cost, not ours.
        disable_nagle_algorithm = True
        wbufsize = 1 << 16

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            time.sleep(latency)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever(poll_interval=0.05)


def start_server(latency: float, style: str) -> tuple[multiprocessing.Process, str]:
    ports: Any = multiprocessing.Queue()
    process = multiprocessing.Process(target=serve, args=(latency, style, ports), daemon=True)
    process.start()
    return process, f"http://127.0.0.1:{ports.get(timeout=10)}/v1"


async def run_once(base_url: str, papers: int, concurrency: int) -> float:
    repository = InMemoryRepository()
    items = [
        Item(
            source="bench",
            external_id=f"2501.{i:05d}",
            kind=ItemKind.PAPER,
            title=f"SCOPE {i}: Optimizing KV Cache Compression",
            url=f"https://arxiv.org/abs/2501.{i:05d}",
            day=date(2025, 1, 2),
            abstract=ABSTRACT,
        )
        for i in range(papers)
    ]
    await repository.add_items(items)
    async with make_http_client(Settings()) as http:
        summarizer = OpenAICompatSummarizer(http, base_url=base_url, model="gpt-4o-mini", timeout=30)
        started = time.perf_counter()
        report = await summarize_pending(repository, summarizer, concurrency=concurrency)
        elapsed = time.perf_counter() - started
    if report.llm != papers:
        raise SystemExit(f"expected {papers} LLM summaries, got {report.as_dict()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--papers", type=int, default=50)
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 4, 8])
    parser.add_argument("--style", choices=sorted(BULLETS), default="formal", help="how the fake LLM ends sentences")
    args = parser.parse_args()
    server, base_url = start_server(args.latency, args.style)
    try:
        asyncio.run(run_once(base_url, 4, 4))  # warm-up: imports, first connections (and Kiwi's model)
        print(f"{args.papers} papers, fake LLM latency {args.latency:.3f}s, answers in the {args.style} style")
        print("concurrency  wall (s)  ideal (s)  ratio")
        for concurrency in args.concurrency:
            wall = asyncio.run(run_once(base_url, args.papers, concurrency))
            ideal = math.ceil(args.papers / concurrency) * args.latency
            print(f"{concurrency:>11}  {wall:8.3f}  {ideal:9.3f}  {wall / ideal:5.3f}")
    finally:
        server.terminate()
        server.join(timeout=5)


if __name__ == "__main__":
    main()
