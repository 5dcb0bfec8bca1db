"""The load engine: scenarios, open and closed executors, HDR measurement, workers, Dask.

>>> from redline.load import LoadSpec, Executor, RequestSpec, run_load  # doctest: +SKIP
>>> result = run_load(LoadSpec("http://127.0.0.1:8080",
...                            Executor("constant-arrival-rate", rate=500, duration=10)))
>>> result.summary()["latency_ms"]["p99"]                                # doctest: +SKIP
"""

from __future__ import annotations

from redline.load.spec import Executor, LoadSpec, RequestCheck, RequestSpec, Stage

__all__ = ["Executor", "LoadSpec", "RequestCheck", "RequestSpec", "Stage"]
