"""``/metrics`` with prometheus_client: what an operator watches, read fresh at each scrape.

The numbers live in the database and the parts, behind async calls, while
prometheus_client's collectors are synchronous: each scrape first reads a ``Snapshot``
(async), then one custom collector turns it into metric families. Request latency is a
real ``Histogram`` observed by the server's middleware.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from core.app import App

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class VerdictCounts(Protocol):
    """Tracks per verdict (``SqliteWebCatalog.verdict_counts``)."""

    async def verdict_counts(self) -> Mapping[str, int]: ...


@dataclass
class Snapshot:
    """One scrape's numbers."""

    tracks: int = 0
    pool_bytes: int = 0
    uptime_s: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    stage_runs: dict[str, int] = field(default_factory=dict)
    verdicts: dict[str, int] = field(default_factory=dict)
    parts: dict[str, str] = field(default_factory=dict)
    events_waiting: dict[str, int] = field(default_factory=dict)
    federation_queue: int | None = None
    federation_outbox: int | None = None
    federation_failures: int | None = None


class _SnapshotCollector(Collector):
    def __init__(self) -> None:
        self.snapshot = Snapshot()

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        yield GaugeMetricFamily("wavepool_tracks", "Tracks in the local pool.", value=s.tracks)
        yield GaugeMetricFamily("wavepool_pool_bytes", "Bytes stored in the blob pool.", value=s.pool_bytes)
        # a counter of seconds, exposed as ``wavepool_uptime_seconds`` (the name dashboards already use)
        yield GaugeMetricFamily("wavepool_uptime_seconds", "Seconds since the server started.", value=s.uptime_s)
        seconds = CounterMetricFamily(
            "wavepool_ingest_stage_seconds", "Seconds spent per ingest stage.", labels=["stage"]
        )
        for stage, value in s.stage_seconds.items():
            seconds.add_metric([stage], value)
        yield seconds
        runs = CounterMetricFamily("wavepool_ingest_stage_runs", "Runs per ingest stage.", labels=["stage"])
        for stage, count in s.stage_runs.items():
            runs.add_metric([stage], count)
        yield runs
        verdicts = GaugeMetricFamily(
            "wavepool_tracks_by_verdict",
            "Active tracks per ingest verdict (the outcomes of ingest).",
            labels=["verdict"],
        )
        for verdict, count in sorted(s.verdicts.items()):
            verdicts.add_metric([verdict], count)
        yield verdicts
        up = GaugeMetricFamily(
            "wavepool_part_up", "1 when a part (bot, federation, scheduler) is connected and ok.", labels=["part"]
        )
        for part, state in sorted(s.parts.items()):
            up.add_metric([part], 1.0 if state == "ok" else 0.0)
        yield up
        waiting = GaugeMetricFamily(
            "wavepool_events_waiting", "Outbox events a subscriber has not handled yet.", labels=["subscriber"]
        )
        for name, count in sorted(s.events_waiting.items()):
            waiting.add_metric([name], count)
        yield waiting
        if s.federation_queue is not None:
            yield GaugeMetricFamily(
                "wavepool_federation_queue", "Replicated blobs waiting to be fetched.", value=s.federation_queue
            )
        if s.federation_outbox is not None:
            yield GaugeMetricFamily(
                "wavepool_federation_outbox", "Federation events waiting to be sent.", value=s.federation_outbox
            )
        if s.federation_failures is not None:
            yield GaugeMetricFamily(
                "wavepool_federation_failures",
                "Blob fetches that failed and wait for a retry.",
                value=s.federation_failures,
            )


class WebMetrics:
    """The registry ``/metrics`` serves and the request-latency histogram."""

    def __init__(
        self,
        app: App,
        parts: Callable[[], Mapping[str, str]] | None = None,
        verdicts: VerdictCounts | None = None,
    ) -> None:
        self._app = app
        self._parts = parts
        self._verdicts = verdicts
        self._started = time.monotonic()
        self.registry = CollectorRegistry(auto_describe=True)
        self._collector = _SnapshotCollector()
        self.registry.register(self._collector)
        self.latency = Histogram(
            "wavepool_http_request_seconds",
            "Time to answer an HTTP request, per route.",
            ["route", "status"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )

    async def render(self) -> bytes:
        """Read the numbers and return the Prometheus text exposition."""
        self._collector.snapshot = await self._read()
        return generate_latest(self.registry)

    async def _read(self) -> Snapshot:
        app = self._app
        parts = dict(self._parts()) if self._parts is not None else {}
        snap = Snapshot(
            tracks=await app.tracks.count(),
            pool_bytes=await app.pool.total_bytes(),
            uptime_s=round(time.monotonic() - self._started, 1),
            stage_seconds=dict(app.ingest.stage_seconds),
            stage_runs=dict(app.ingest.stage_counts),
            parts=parts,
        )
        if self._verdicts is not None:
            snap.verdicts = dict(await self._verdicts.verdict_counts())
        last = await app.events.last_seq()
        for name in parts:
            snap.events_waiting[name] = max(0, last - (await app.events.checkpoint(name) or 0))
        if app.federation is not None:
            try:
                status: Mapping[str, Any] = await app.federation.status()
            except Exception as err:  # a scrape reports what it can
                log.warning("federation status unavailable: %s", err)
            else:
                snap.federation_queue = _int(status.get("queue"))
                snap.federation_outbox = _int(status.get("outbox"))
                failures = status.get("failures")
                snap.federation_failures = len(failures) if isinstance(failures, list) else None
        return snap


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None
