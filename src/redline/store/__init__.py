"""The store: where redline keeps runs, metrics, samples, releases, baselines, deploy locks.

One schema on SQLite (the embedded default, ``.redline/redline.db``) and on
PostgreSQL (for a team), created and migrated automatically on first use.

>>> from redline.store import open_store, MetricRecord       # doctest: +SKIP
>>> with open_store("sqlite:///.redline/redline.db") as store:  # doctest: +SKIP
...     run_id = store.record_run(kind="load", name="checkout",
...                               metrics=[MetricRecord("p99_ms", 41.0, direction="lower")])
...     store.run_metrics(run_id)
[MetricRecord(name='p99_ms', value=41.0, unit=None, direction='lower')]

Names resolve lazily: the records and :func:`append_run` cost no SQLAlchemy import,
so a command that only appends a run (``redline validate``) stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY: dict[str, str] = {
    "BaselineRecord": "redline.store.baselines",
    "HistogramRecord": "redline.store.records",
    "LockEventRecord": "redline.store.locks",
    "LockRecord": "redline.store.locks",
    "MetricRecord": "redline.store.records",
    "ReleaseRecord": "redline.store.records",
    "RunRecord": "redline.store.records",
    "SampleRecord": "redline.store.records",
    "Store": "redline.store.core",
    "append_run": "redline.store.append",
    "default_store_url": "redline.store.urls",
    "open_store": "redline.store.core",
    "resolve_store_url": "redline.store.urls",
}

__all__ = [
    "BaselineRecord",
    "HistogramRecord",
    "LockEventRecord",
    "LockRecord",
    "MetricRecord",
    "ReleaseRecord",
    "RunRecord",
    "SampleRecord",
    "Store",
    "append_run",
    "default_store_url",
    "open_store",
    "resolve_store_url",
]

if TYPE_CHECKING:
    from redline.store.append import append_run
    from redline.store.baselines import BaselineRecord
    from redline.store.core import Store, open_store
    from redline.store.locks import LockEventRecord, LockRecord
    from redline.store.records import (
        HistogramRecord,
        MetricRecord,
        ReleaseRecord,
        RunRecord,
        SampleRecord,
    )
    from redline.store.urls import default_store_url, resolve_store_url


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'redline.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
