"""``/healthz`` and Prometheus ``/metrics`` of ``paperbot run``, served beside the web archive on PAPERBOT_HTTP_PORT."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from paperbot.service.runtime import JobStats


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


def health_routes(
    registry: CollectorRegistry, is_leader: Callable[[], bool]
) -> dict[str, Callable[[], Awaitable[tuple[str, bytes]]]]:
    """``/healthz`` (JSON, with whether this instance leads) and ``/metrics`` (Prometheus text), as (content type,
    body) producers for the HTTP server of ``paperbot run`` (the web archive's, :mod:`paperbot.web`)."""

    async def healthz() -> tuple[str, bytes]:
        return "application/json", json.dumps({"status": "ok", "leader": is_leader()}).encode()

    async def metrics() -> tuple[str, bytes]:
        return "text/plain; version=0.0.4; charset=utf-8", generate_latest(registry)

    return {"/healthz": healthz, "/metrics": metrics}
