"""A real local HTTP server that speaks the OpenAI chat-completions and Anthropic Messages shapes.

Tests script it with ``script(request_body, attempt)`` → ``Reply``, where ``attempt`` counts the requests seen for
the same paper title (so concurrent requests for different papers get their own script). Requests are recorded.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict → JSON; str → sent as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a hang: longer than the client's timeout)
    drip: float = 0.0  # seconds between single bytes of the body (a server that never quite stops answering)
    stream_bytes: int = 0  # send this many filler bytes as the body instead (a huge answer), in 64 KiB writes
    declare_length: bool = True  # send Content-Length (else the body runs until the connection closes)


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


Script = Callable[[dict[str, Any], int], Reply]


def openai_answer(content: str, *, finish_reason: str = "stop", tokens: tuple[int, int] = (100, 50)) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": tokens[0], "completion_tokens": tokens[1], "total_tokens": sum(tokens)},
    }


def openai_bullets(bullets: list[str], **kwargs: Any) -> dict[str, Any]:
    return openai_answer(json.dumps({"bullets": bullets}, ensure_ascii=False), **kwargs)


def anthropic_tool(bullets: list[str], *, stop_reason: str = "tool_use") -> dict[str, Any]:
    return {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "submit_summary", "input": {"bullets": bullets}}],
        "stop_reason": stop_reason,
        "usage": {"input_tokens": 120, "output_tokens": 60},
    }


def anthropic_text(text: str, *, stop_reason: str = "end_turn") -> dict[str, Any]:
    return {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "usage": {"input_tokens": 120, "output_tokens": 60},
    }


def title_of(body: dict[str, Any]) -> str:
    """The paper title inside the first user message (between <title> delimiters)."""
    messages = body.get("messages", [])
    first_user = next((m["content"] for m in messages if m.get("role") == "user"), "")
    match = re.search(r"<title>\n(.*?)\n</title>", first_user, re.DOTALL)
    return match.group(1) if match else ""


class FakeLLMServer:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Recorded] = []
        self.release = threading.Event()
        self.sent_bytes = 0  # body bytes written to clients (for the huge-body case)
        self._lock = threading.Lock()
        self._attempts: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                body = json.loads(raw or b"{}")
                with server._lock:
                    server.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    key = title_of(body)
                    attempt = server._attempts[key]
                    server._attempts[key] += 1
                reply = server.script(body, attempt)
                if reply.delay and server.release.wait(reply.delay):
                    return  # the test is over
                payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body or {})
                data = payload.encode()
                length = reply.stream_bytes or len(data)
                with suppress(OSError):
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    if reply.declare_length:
                        self.send_header("Content-Length", str(length))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if reply.stream_bytes:
                        self._stream(reply.stream_bytes)
                    elif reply.drip:
                        self._drip(data, reply.drip)
                    else:
                        self.wfile.write(data)

            def _stream(self, total: int) -> None:
                chunk = b" " * 65536
                sent = 0
                while sent < total and not server.release.is_set():
                    size = min(len(chunk), total - sent)
                    self.wfile.write(chunk[:size])  # raises once the client has hung up
                    sent += size
                    with server._lock:
                        server.sent_bytes += size

            def _drip(self, data: bytes, interval: float) -> None:
                for index in range(len(data)):
                    self.wfile.write(data[index : index + 1])
                    self.wfile.flush()
                    if server.release.wait(interval):
                        return

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients that time out close their end; that is the point of the hang test

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def fake_llm(script: Script) -> Iterator[FakeLLMServer]:
    server = FakeLLMServer(script)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def reference_script(path: str) -> Script:
    """The stand-in LLM of the evaluation: answers each reference paper with its own ``ko_reference`` sentences
    (the same answer on a repair turn, as a model that cannot do better would), matched by the prompt's title."""
    from paperbot.summarize.text import sanitize_for_prompt

    answers: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                row = json.loads(line)
                answers[sanitize_for_prompt(row["title"], 500)] = row.get("ko_reference") or row.get("ko_bullets")

    def script(body: dict[str, Any], attempt: int) -> Reply:
        bullets = answers.get(title_of(body))
        if bullets is None:
            return Reply(status=404, body={"error": {"message": "unknown paper"}})
        return Reply(body=openai_bullets(bullets))

    return script


def main() -> None:  # pragma: no cover - a tool for the evaluation, run by hand
    import argparse
    import time

    parser = argparse.ArgumentParser(description="Serve a reference set as a stand-in OpenAI-compatible LLM.")
    parser.add_argument("--references", required=True)
    args = parser.parse_args()
    server = FakeLLMServer(reference_script(args.references))
    server.start()
    print(f"{server.url}/v1", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
