"""``/healthz`` and Prometheus ``/metrics`` of ``paperbot run``, served beside the web archive on PAPERBOT_HTTP_PORT."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from paperbot.service.runtime import JobStats, PlatformState


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
        up = GaugeMetricFamily(
            "paperbot_platform_up",
            "1 while a started platform runs, 0 while it waits to be retried",
            labels=["platform"],
        )
        for name, platform in sorted(stats.platforms.items()):
            up.add_metric([name], 1.0 if platform.state == "running" else 0.0)
        yield up
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


def health(is_leader: bool, platforms: Mapping[str, PlatformState]) -> dict[str, Any]:
    """The body of ``/healthz``: ``ok``, or ``degraded`` while a platform waits to be retried (which one, why, when).

    Always served with HTTP 200: this process is alive and its scheduler and web archive keep working while a
    platform is down, and ``paperbot run`` retries the platform itself (pausing up to an hour). A liveness probe
    that restarted it on 503 would fix nothing (the platform is as unreachable after the restart) and would spend
    a Discord IDENTIFY each time (1,000 a day). Alert on ``status`` or on ``paperbot_platform_up`` instead.
    """
    body: dict[str, Any] = {"status": "ok", "leader": is_leader}
    if platforms:
        body["platforms"] = {name: _platform(state) for name, state in sorted(platforms.items())}
    if any(state.state != "running" for state in platforms.values()):
        body["status"] = "degraded"
    return body


def _platform(state: PlatformState) -> dict[str, Any]:
    shown: dict[str, Any] = {"state": state.state}
    if state.problem is not None:
        shown["problem"] = state.problem
    if state.retry_at is not None:
        shown["retry_at"] = state.retry_at.isoformat(timespec="seconds")
    return shown


def health_routes(
    registry: CollectorRegistry,
    is_leader: Callable[[], bool],
    platforms: Mapping[str, PlatformState] | None = None,
) -> dict[str, Callable[[], Awaitable[tuple[str, bytes]]]]:
    """``/healthz`` (JSON: :func:`health`, read from ``platforms`` as the supervisor updates it) and ``/metrics``
    (Prometheus text), as (content type, body) producers for the HTTP server of ``paperbot run`` (the web
    archive's, :mod:`paperbot.web`)."""
    states: Mapping[str, PlatformState] = platforms if platforms is not None else {}

    async def healthz() -> tuple[str, bytes]:
        return "application/json", json.dumps(health(is_leader(), states)).encode()

    async def metrics() -> tuple[str, bytes]:
        return "text/plain; version=0.0.4; charset=utf-8", generate_latest(registry)

    return {"/healthz": healthz, "/metrics": metrics}
