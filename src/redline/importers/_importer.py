"""Reading a results file into runs, and recording them in the store exactly once."""

from __future__ import annotations

import dataclasses
import importlib
import os
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redline._errors import DataError, StoreError, StoreSchemaError, UsageError
from redline.importers._common import ImportedRun, Options, Parsed, Source, read_source
from redline.store.records import DIRECTIONS, MetricRecord, run_row

if TYPE_CHECKING:
    from redline.store.core import Store

__all__ = ["KINDS", "ImportReport", "RunOutcome", "import_results", "parse_results"]

# KIND -> the module whose ``parse(source, options)`` reads it.
_PARSERS: dict[str, str] = {
    "pytest-benchmark": "redline.importers.pytest_benchmark",
    "locust": "redline.importers.locust",
    "k6": "redline.importers.k6",
    "csv": "redline.importers.csv_series",
    "json": "redline.importers.generic_json",
}
KINDS: tuple[str, ...] = tuple(_PARSERS)
RUN_KIND = "import"


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What became of one run of the file: ``imported`` (with its id), ``skipped`` (the
    same result is already in the store as ``duplicate_of``) or ``planned`` (dry run)."""

    name: str
    status: str
    started_at: datetime
    metrics: tuple[MetricRecord, ...]
    run_id: str | None = None
    duplicate_of: str | None = None
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "run_id": self.run_id,
            "duplicate_of": self.duplicate_of,
            "line": self.line,
            "started_at": self.started_at.isoformat(),
            "metric_count": len(self.metrics),
            "metrics": [
                {"name": m.name, "value": m.value, "unit": m.unit, "direction": m.direction}
                for m in self.metrics
            ],
        }


@dataclass(frozen=True, slots=True)
class ImportReport:
    """The outcome of :func:`import_results`: each run of the file, and the warnings."""

    kind: str
    file: str
    store: str | None
    dry_run: bool
    runs: tuple[RunOutcome, ...]
    warnings: tuple[str, ...] = ()

    def _count(self, status: str) -> int:
        return sum(run.status == status for run in self.runs)

    @property
    def imported(self) -> int:
        """Runs recorded by this import."""
        return self._count("imported")

    @property
    def skipped(self) -> int:
        """Runs left out because the store already had them."""
        return self._count("skipped")

    @property
    def planned(self) -> int:
        """Runs a dry run would have recorded."""
        return self._count("planned")

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data: what ``redline import --json`` prints."""
        return {
            "schema_version": 1,
            "ok": True,
            "kind": self.kind,
            "file": self.file,
            "store": self.store,
            "dry_run": self.dry_run,
            "imported": self.imported,
            "skipped": self.skipped,
            "planned": self.planned,
            "runs": [run.to_dict() for run in self.runs],
            "warnings": list(self.warnings),
        }


def parse_results(
    kind: str,
    path: str | Path,
    *,
    environment: str | None = None,
    branch: str | None = None,
    commit: str | None = None,
    version: str | None = None,
    name: str | None = None,
    host: str | None = None,
    direction: str | None = None,
    directions: Mapping[str, str] | None = None,
    time_column: str | None = None,
    columns: Iterable[str] | None = None,
) -> list[ImportedRun]:
    """The runs in a results file, without a store: what :func:`import_results` records.

    The arguments win over what the file says; nothing is filled in from git or this
    machine here (:func:`import_results` does that). A DataError names the file (and
    line) when it cannot be read.

    >>> runs = parse_results("pytest-benchmark", "bench.json")  # doctest: +SKIP
    >>> runs[0].name, [m.name for m in runs[0].metrics][:3]  # doctest: +SKIP
    ('tests/test_sort.py::test_sort[100]', ['min', 'max', 'mean'])
    """
    options = _options(
        name, environment, branch, commit, version, host, direction, directions, time_column,
        columns,
    )  # fmt: skip
    return _parse(kind, path, options).runs


def import_results(
    kind: str,
    path: str | Path,
    *,
    store_url: str,
    environment: str | None = None,
    branch: str | None = None,
    commit: str | None = None,
    version: str | None = None,
    name: str | None = None,
    host: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    direction: str | None = None,
    directions: Mapping[str, str] | None = None,
    time_column: str | None = None,
    columns: Iterable[str] | None = None,
) -> ImportReport:
    """Record every result of a file as a ``kind: import`` run in the store at ``store_url``.

    The whole file is read and checked before the store is touched, so a file that
    is bad half-way imports nothing. A result already imported (same tool, run name
    and content, kept as a fingerprint in the run's summary) is skipped unless
    ``force``; ``dry_run`` records nothing and reports what would be. For a file
    that is one fresh result (pytest-benchmark, Locust, k6, a one-run JSON), missing
    commit and branch come from ``GITHUB_SHA``/``GITHUB_REF_NAME``, else from git;
    the host from this machine.

    >>> report = import_results("k6", "summary.json", store_url="sqlite:///r.db",
    ...                         environment="staging")  # doctest: +SKIP
    >>> report.imported, report.skipped  # doctest: +SKIP
    (1, 0)
    """
    options = _options(
        name, environment, branch, commit, version, host, direction, directions, time_column,
        columns,
    )  # fmt: skip
    parsed = _parse(kind, path, options)
    runs = _fill_defaults(parsed.runs, Path(path)) if parsed.fresh else parsed.runs
    warnings = list(parsed.warnings)
    if dry_run:
        existing, note = _peek(store_url, runs)
        if note:
            warnings.append(note)
        outcomes = [_outcome(run, existing, force, planned=True) for run in runs]
        return ImportReport(
            kind, str(path), _redacted(store_url), True, tuple(outcomes), tuple(warnings)
        )
    from redline.store.core import open_store

    with open_store(store_url) as store:
        existing = _existing(store, runs)
        outcomes = _record(store, runs, existing, force, Path(path))
        url = store.url
    return ImportReport(kind, str(path), url, False, tuple(outcomes), tuple(warnings))


def _options(
    name: str | None,
    environment: str | None,
    branch: str | None,
    commit: str | None,
    version: str | None,
    host: str | None,
    direction: str | None,
    directions: Mapping[str, str] | None,
    time_column: str | None,
    columns: Iterable[str] | None,
) -> Options:
    for value in (direction, *(directions or {}).values()):
        if value is not None and value not in DIRECTIONS:
            raise UsageError(
                f"direction {value!r} is not one of {', '.join(DIRECTIONS)}",
                hint="write --direction lower, or --direction COLUMN=higher",
            )
    return Options(
        name=name or None,
        environment=environment or None,
        branch=branch or None,
        commit=commit or None,
        version=version or None,
        host=host or None,
        direction=direction,
        directions=dict(directions or {}),
        time_column=time_column or None,
        columns=tuple(columns) if columns else None,
    )


def _parser(kind: str) -> Callable[[Source, Options], Parsed]:
    module = _PARSERS.get(kind)
    if module is None:
        raise UsageError(
            f"cannot import results of kind {kind!r}", hint=f"use one of {', '.join(KINDS)}"
        )
    parse: Callable[[Source, Options], Parsed] = importlib.import_module(module).parse
    return parse


def _parse(kind: str, path: str | Path, options: Options) -> Parsed:
    parse = _parser(kind)
    source = read_source(kind, path)
    parsed = parse(source, options)
    overrides = {
        key: value
        for key in ("environment", "branch", "commit", "version", "host")
        if (value := getattr(options, key)) is not None
    }
    runs = (
        [dataclasses.replace(run, **overrides) for run in parsed.runs] if overrides else parsed.runs
    )
    now = datetime.now(UTC)
    for run in runs:
        try:  # the checks record_run makes, made for every run before any is written
            run_row(
                None, RUN_KIND, run.name, run.started_at, run.status, run.summary, now,
                environment=run.environment, version=run.version, commit=run.commit,
                branch=run.branch, host=run.host,
            )  # fmt: skip
        except ValueError as error:
            raise DataError(
                f"{source.where(run.line)}: run {run.name!r} cannot be stored: {error}",
                hint="fix the file there",
            ) from None
    return dataclasses.replace(parsed, runs=runs)


def _fill_defaults(runs: list[ImportedRun], path: Path) -> list[ImportedRun]:
    """Commit and branch from CI's variables, else from git; the host from this machine."""
    commit = os.environ.get("GITHUB_SHA") or None
    branch = os.environ.get("GITHUB_REF_NAME") or None
    need_commit = commit is None and any(r.commit is None for r in runs)
    need_branch = branch is None and any(r.branch is None for r in runs)
    if need_commit or need_branch:
        from redline.load.record import git_revision

        base = path.resolve().parent
        git_commit, git_branch = git_revision(base if base.is_dir() else Path.cwd())
        if git_commit is None:
            git_commit, git_branch = git_revision(Path.cwd())
        commit = commit or git_commit
        branch = branch or (git_branch if git_branch != "HEAD" else None)
    machine = socket.gethostname() or None
    return [
        dataclasses.replace(
            run,
            commit=run.commit or commit,
            branch=run.branch or branch,
            host=run.host or machine,
        )
        for run in runs
    ]


def _existing(store: Store, runs: list[ImportedRun]) -> dict[str, str]:
    """Fingerprint -> id of the imported runs already in the store under these names."""
    found: dict[str, str] = {}
    for name in sorted({run.name for run in runs}):
        for record in store.list_runs(kind=RUN_KIND, name=name, limit=None):
            source = record.summary.get("source") if isinstance(record.summary, dict) else None
            fingerprint = source.get("fingerprint") if isinstance(source, dict) else None
            if isinstance(fingerprint, str):
                found.setdefault(fingerprint, record.id)
    return found


def _peek(store_url: str, runs: list[ImportedRun]) -> tuple[dict[str, str], str | None]:
    """For a dry run: the runs already imported, without creating or migrating a store."""
    from redline.store.core import open_store
    from redline.store.urls import parse_store_url

    target = parse_store_url(store_url)  # an unknown scheme fails here too
    path = target.sqlite_path
    if target.backend == "sqlite" and (path is None or not path.exists()):
        return {}, None
    try:
        with open_store(store_url, upgrade=False) as store:
            return _existing(store, runs), None
    except StoreSchemaError as error:
        return {}, f"earlier imports not checked: {error.message}"


def _outcome(
    run: ImportedRun, existing: Mapping[str, str], force: bool, *, planned: bool
) -> RunOutcome:
    duplicate = existing.get(run.fingerprint)
    status = "skipped" if duplicate and not force else ("planned" if planned else "imported")
    return RunOutcome(
        run.name, status, run.started_at, run.metrics, duplicate_of=duplicate, line=run.line
    )


def _record(
    store: Store, runs: list[ImportedRun], existing: Mapping[str, str], force: bool, path: Path
) -> list[RunOutcome]:
    outcomes = []
    todo = sum(1 for run in runs if force or run.fingerprint not in existing)
    written = 0
    for run in runs:
        outcome = _outcome(run, existing, force, planned=False)
        if outcome.status == "imported":
            try:
                run_id = store.record_run(
                    kind=RUN_KIND,
                    name=run.name,
                    started_at=run.started_at,
                    finished_at=run.finished_at or run.started_at,
                    status=run.status,
                    environment=run.environment,
                    version=run.version,
                    commit=run.commit,
                    branch=run.branch,
                    host=run.host,
                    summary=run.summary,
                    metrics=run.metrics,
                )
            except (StoreError, ValueError) as error:
                raise StoreError(
                    f"the store failed after {written} of {todo} runs from {path} were "
                    f"recorded: {getattr(error, 'message', error)}",
                    hint="run the same import again: the runs already recorded are "
                    "recognised and skipped",
                ) from None
            written += 1
            outcome = dataclasses.replace(outcome, run_id=run_id)
        outcomes.append(outcome)
    return outcomes


def _redacted(url: str) -> str:
    from redline.redact import redact_url

    return redact_url(url)
