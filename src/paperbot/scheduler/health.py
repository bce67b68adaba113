"""``/healthz`` and Prometheus ``/metrics`` on a tiny asyncio HTTP server (no web framework needed for two GETs)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from paperbot.service.runtime import JobStats

logger = logging.getLogger("paperbot.http")

_MAX_REQUEST_LINE = 8192


class StatsCollector(Collector):
    """Exposes the runtime's ``JobStats`` (and whether this instance leads) as Prometheus metrics."""

    def __init__(self, stats: JobStats, is_leader: Callable[[], bool]) -> None:
        self._stats = stats
        self._is_leader = is_leader

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self._stats
        leader = GaugeMetricFamily("paperbot_leader", "1 while this instance holds the leader lease")
        leader.add_metric([], 1.0 if self._is_leader() else 0.0)
        yield leader
        runs = CounterMetricFamily("paperbot_job_runs", "scheduled job runs", labels=["job"])
        for job, count in stats.runs.items():
            runs.add_metric([job.split(" ", 1)[0]], count)
        yield runs
        failures = CounterMetricFamily("paperbot_job_failures", "failed or timed-out job runs", labels=["job"])
        for job, count in stats.failures.items():
            failures.add_metric([job.split(" ", 1)[0]], count)
        yield failures
        yield CounterMetricFamily("paperbot_items_collected", "new items stored", value=stats.items_collected)
        yield CounterMetricFamily("paperbot_source_failures", "failed source fetches", value=stats.source_failures)
        summaries = CounterMetricFamily(
            "paperbot_summaries", "summaries by back-end or fallback reason", labels=["kind"]
        )
        for kind, count in stats.summaries.items():
            summaries.add_metric([kind], count)
        yield summaries
        deliveries = CounterMetricFamily("paperbot_deliveries", "digest chunks by outcome", labels=["state"])
        for state, count in stats.deliveries.items():
            deliveries.add_metric([state], count)
        yield deliveries
        yield CounterMetricFamily("paperbot_llm_tokens", "LLM tokens (in + out)", value=stats.tokens)
        yield CounterMetricFamily("paperbot_llm_cost_usd", "LLM cost in USD", value=stats.cost_usd)


def make_registry(stats: JobStats, is_leader: Callable[[], bool]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(StatsCollector(stats, is_leader))
    return registry


async def serve_health(
    port: int,
    registry: CollectorRegistry,
    is_leader: Callable[[], bool],
    *,
    host: str = "0.0.0.0",  # noqa: S104
) -> None:
    """Serve until cancelled. ``GET /healthz`` → 200 JSON; ``GET /metrics`` → Prometheus text; else 404."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                line = await reader.readline()
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
            parts = line[:_MAX_REQUEST_LINE].decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 and parts[0] in ("GET", "HEAD") else ""
            if path == "/healthz":
                status, ctype = "200 OK", "application/json"
                body = json.dumps({"status": "ok", "leader": is_leader()}).encode()
            elif path == "/metrics":
                status, ctype = "200 OK", "text/plain; version=0.0.4; charset=utf-8"
                body = generate_latest(registry)
            else:
                status, ctype, body = "404 Not Found", "text/plain", b"not found\n"
            head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            writer.write(head.encode() + (body if parts and parts[0] != "HEAD" else b""))
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port)
    logger.info("health and metrics on port %d", port)
    async with server:
        await server.serve_forever()
