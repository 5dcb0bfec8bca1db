"""The demo system: a small real service (API + worker + database) to point redline at.

>>> from pathlib import Path
>>> from redline.demo import DemoSystem
>>> with DemoSystem(Path("/tmp/demo"), knobs={"latency": "50ms"}) as demo:  # doctest: +SKIP
...     demo.endpoints.api_url
'http://127.0.0.1:40213'

Its knobs (latency, error rate, CPU burn, slow queries, cache, version, health) have real
effects that probes, load tests and regression checks can measure; see docs/demo-system.md.
"""

from __future__ import annotations

from redline.demo.knobs import Knobs
from redline.demo.runner import DemoEndpoints, DemoSystem

__all__ = ["DemoEndpoints", "DemoSystem", "Knobs"]
