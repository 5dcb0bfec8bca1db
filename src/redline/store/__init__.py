"""The store: where redline keeps runs, metrics, histograms, samples and releases.

One schema on SQLite (the embedded default, ``.redline/redline.db``) and on
PostgreSQL (for a team), created and migrated automatically on first use.

>>> from redline.store import open_store, MetricRecord       # doctest: +SKIP
>>> with open_store("sqlite:///.redline/redline.db") as store:  # doctest: +SKIP
...     run_id = store.record_run(kind="load", name="checkout",
...                               metrics=[MetricRecord("p99_ms", 41.0, direction="lower")])
...     store.run_metrics(run_id)
[MetricRecord(name='p99_ms', value=41.0, unit=None, direction='lower')]
"""

from __future__ import annotations

from redline.store.core import Store, open_store
from redline.store.records import (
    HistogramRecord,
    MetricRecord,
    ReleaseRecord,
    RunRecord,
    SampleRecord,
)
from redline.store.urls import default_store_url, resolve_store_url

__all__ = [
    "HistogramRecord",
    "MetricRecord",
    "ReleaseRecord",
    "RunRecord",
    "SampleRecord",
    "Store",
    "default_store_url",
    "open_store",
    "resolve_store_url",
]
