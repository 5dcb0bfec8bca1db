"""Importers: results of other tools become runs in redline's store.

``redline import KIND FILE`` for KIND in ``pytest-benchmark`` (``--benchmark-json``),
``locust`` (``PREFIX_stats.csv``), ``k6`` (``--summary-export`` or ``handleSummary``
JSON), ``csv`` (Apache Otava's layout: a time column, attribute columns, metric
columns; one run per row) and ``json`` (redline's generic layout). Every metric
keeps its unit and which way is better.

>>> from redline.importers import import_results, parse_results
>>> runs = parse_results("locust", "shop_stats.csv")                       # doctest: +SKIP
>>> report = import_results("locust", "shop_stats.csv",
...                         store_url="sqlite:///.redline/redline.db")     # doctest: +SKIP
>>> report.imported                                                         # doctest: +SKIP
1
"""

from __future__ import annotations

from redline.importers._common import ImportedRun, guess_direction, guess_unit
from redline.importers._importer import (
    KINDS,
    ImportReport,
    RunOutcome,
    import_results,
    parse_results,
)

__all__ = [
    "KINDS",
    "ImportReport",
    "ImportedRun",
    "RunOutcome",
    "guess_direction",
    "guess_unit",
    "import_results",
    "parse_results",
]
