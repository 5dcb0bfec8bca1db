"""The schema guard: a rollback to a release that cannot run on the database's schema is
refused before anything changes, naming both revisions.

A release declares the schema revisions it runs against as a :class:`SchemaRange`:
``min`` and/or ``max`` (inclusive), or an explicit list of ``revisions``. The database's
revision is read from its Alembic version table with :func:`read_revision`, over the
``postgres`` probe's own client (no database driver is imported).

>>> allowed = SchemaRange(min="0003", max="0004")
>>> check_rollback("1.3", allowed, read_revision("postgresql://app@db/shop"))  # doctest: +SKIP
RollbackError: release 1.3 runs on schema 0003-0004; the database is at 0006: the rollback
was refused and nothing was changed
  hint: migrate the database down to 0004 first, or roll forward

How revisions compare. Alembic revisions are opaque strings; a range needs an order:

- with ``order`` (the migration history, oldest first, as ``alembic history`` lists it), a
  revision's place in that list;
- without it, revisions that look like numbers compare as numbers, dot by dot, with an
  optional ``_slug`` after them (``0003``, ``12``, ``2.1``, ``0003_add_users``): ``0010``
  is after ``0009`` and ``12`` after ``9``;
- anything else (Alembic's default hex ids, ``ae1027a6acf``) cannot be placed: declare
  ``order``, or list the ``revisions`` a release runs on (compared by equality only).

A revision that cannot be placed is never taken as allowed: the rollback is refused
with a message saying why.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from redline._errors import DeployError, RollbackError

__all__ = [
    "DEFAULT_TIMEOUT",
    "SchemaRange",
    "check_rollback",
    "read_revision",
    "read_revision_async",
]

# Seconds to connect and read the version table, all told.
DEFAULT_TIMEOUT: Final = 5.0
_NUMERIC = re.compile(r"(\d+(?:\.\d+)*)(?:[_-][A-Za-z0-9_-]*)?")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_UNDEFINED_TABLE = "42P01"
_UNDEFINED_COLUMN = "42703"


@dataclass(frozen=True)
class SchemaRange:
    """The database schema revisions a release can run against.

    Either ``min`` and/or ``max`` (inclusive bounds), or ``revisions`` (exactly these).
    ``order`` is the migration history, oldest first, for revisions that are not numbers.

    >>> SchemaRange(min="0003", max="0005").allows("0004")
    True
    >>> SchemaRange(revisions=("ae10", "bf22")).allows("cc01")
    False
    """

    min: str | None = None
    max: str | None = None
    revisions: tuple[str, ...] = ()
    order: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "revisions", tuple(self.revisions))
        object.__setattr__(self, "order", tuple(self.order))
        bounded = self.min is not None or self.max is not None
        if bounded == bool(self.revisions):
            raise DeployError(
                "a release's schema is declared as min/max or as a list of revisions, "
                "one of the two",
                hint='write schema: {min: "0003", max: "0005"} or schema: ["0003", "0004"]',
            )
        for bound in (self.min, self.max):
            if bound is not None and self._key(bound) is None:
                raise DeployError(
                    f"schema revision {bound!r} cannot be ordered: "
                    + self._unordered_reason(bound),
                    hint=_ORDER_HINT,
                )
        if self.min is not None and self.max is not None:
            low, high = self._key(self.min), self._key(self.max)
            assert low is not None and high is not None
            if low > high:
                raise DeployError(
                    f"the schema range {self.min}-{self.max} is empty: min is after max",
                    hint="swap min and max",
                )

    @classmethod
    def parse(cls, value: Any, *, order: Sequence[str] = ()) -> SchemaRange:
        """From the config's spelling: ``{min: "0003", max: "0005"}``, a list of
        revisions, or one revision (exactly that one)."""
        if isinstance(value, SchemaRange):
            return value
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - {"min", "max", "revisions", "order"})
            if unknown:
                raise DeployError(f"unknown key(s) in a release's schema: {', '.join(unknown)}")
            return cls(
                min=_text(value.get("min")),
                max=_text(value.get("max")),
                revisions=tuple(str(r) for r in value.get("revisions") or ()),
                order=tuple(str(r) for r in value.get("order") or order),
            )
        if isinstance(value, str | int):
            return cls(revisions=(str(value),), order=tuple(order))
        if isinstance(value, Sequence):
            return cls(revisions=tuple(str(r) for r in value), order=tuple(order))
        raise DeployError(f"a release's schema must be a mapping or a list, not {value!r}")

    def allows(self, revision: str) -> bool:
        """Whether a release with this range runs on ``revision``.

        Raises RollbackError when ``revision`` cannot be placed in the order (see the
        module's notes): not knowing is not allowing.
        """
        verdict = self._verdict(revision)
        if verdict is None:
            raise RollbackError(
                f"cannot tell whether schema {revision} is within {self.describe()}: "
                + self._unordered_reason(revision),
                hint=_ORDER_HINT,
            )
        return verdict

    def _verdict(self, revision: str) -> bool | None:
        # None: the revision cannot be placed in the order.
        if self.revisions:
            return revision in self.revisions
        key = self._key(revision)
        if key is None:
            return None
        low = None if self.min is None else self._key(self.min)
        high = None if self.max is None else self._key(self.max)
        return (low is None or low <= key) and (high is None or key <= high)

    def describe(self) -> str:
        """``0003-0005``, ``0003 or later``, ``up to 0005``, or ``0003, 0005``."""
        if self.revisions:
            return ", ".join(self.revisions)
        if self.min is not None and self.max is not None:
            return self.min if self.min == self.max else f"{self.min}-{self.max}"
        if self.min is not None:
            return f"{self.min} or later"
        return f"up to {self.max}"

    def _key(self, revision: str) -> tuple[int, ...] | None:
        if self.order:
            return (self.order.index(revision),) if revision in self.order else None
        found = _NUMERIC.fullmatch(revision)
        return None if found is None else tuple(int(p) for p in found.group(1).split("."))

    def _unordered_reason(self, revision: str) -> str:
        if self.order:
            return f"{revision} is not in the declared migration order"
        return f"{revision} is not a number and no migration order is declared"


_ORDER_HINT = (
    "declare the migration order (schema order: oldest first, as `alembic history` lists "
    "it), or list the revisions the release runs on"
)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def check_rollback(
    target_version: str, allowed_range: SchemaRange | None, current_revision: str | None
) -> None:
    """Refuse (RollbackError, exit 4) a rollback to ``target_version`` whose schema range
    does not include the database's ``current_revision``; call it before changing anything.

    ``allowed_range`` None (the release declared no schema) lets it through. Several
    current revisions (Alembic branches, read as ``"a,b"``) must all be allowed.
    """
    if allowed_range is None:
        return
    runs_on = f"release {target_version} runs on schema {allowed_range.describe()}"
    if not current_revision:
        raise RollbackError(
            f"{runs_on}; the database has no schema revision (its version table is empty): "
            "the rollback was refused and nothing was changed",
            hint="migrate the database to a revision the release runs on first, or roll forward",
        )
    heads = [head.strip() for head in current_revision.split(",") if head.strip()]
    verdicts = {head: allowed_range._verdict(head) for head in heads}
    unplaced = [head for head, verdict in verdicts.items() if verdict is None]
    if unplaced:
        raise RollbackError(
            f"{runs_on}; the database is at {current_revision}, which cannot be placed "
            f"({allowed_range._unordered_reason(unplaced[0])}): "
            "the rollback was refused and nothing was changed",
            hint=_ORDER_HINT,
        )
    outside = [head for head, verdict in verdicts.items() if not verdict]
    if not outside:
        return
    raise RollbackError(
        f"{runs_on}; the database is at {current_revision}: "
        "the rollback was refused and nothing was changed",
        hint=f"{_direction(allowed_range, outside[0])}, or roll forward",
    )


def _direction(allowed: SchemaRange, revision: str) -> str:
    if allowed.revisions:
        return f"migrate the database to {allowed.describe()} first"
    # Only called for a revision the range placed (allows() raised otherwise) and refused.
    if allowed.min is not None and not SchemaRange(min=allowed.min, order=allowed.order).allows(
        revision
    ):
        return f"migrate the database up to {allowed.min} first"
    return f"migrate the database down to {allowed.max} first"


def read_revision(
    dsn: str,
    *,
    table: str = "alembic_version",
    column: str = "version_num",
    timeout: float = DEFAULT_TIMEOUT,
) -> str | None:
    """The database's schema revision from its version table; None when the table is empty.

    Several rows (Alembic branches) read as ``"a,b"``, sorted. ``table`` may name its
    schema (``ops.alembic_version``). Raises DeployError, naming the database (never the
    DSN or its password), when the database cannot be reached within ``timeout`` seconds,
    or has no such table or column.

    >>> read_revision("postgresql://app@db/shop")   # doctest: +SKIP
    '0004'
    """
    reading = read_revision_async(dsn, table=table, column=column, timeout=timeout)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(reading)
    # Called from async code: give the read a loop of its own in a worker thread.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="redline-schema") as pool:
        return pool.submit(asyncio.run, reading).result()


async def read_revision_async(
    dsn: str,
    *,
    table: str = "alembic_version",
    column: str = "version_num",
    timeout: float = DEFAULT_TIMEOUT,
) -> str | None:
    """:func:`read_revision` for async code."""
    from redline.probes import _pgwire
    from redline.probes._pgdsn import DsnError, resolve
    from redline.probes.postgres import _scrub, _Target

    query = f"SELECT {_quoted(column)} FROM {_quoted(table)}"  # noqa: S608 (checked names)
    try:
        params = resolve(dsn)
    except DsnError as error:
        raise DeployError(
            f"the schema guard's DSN is invalid: {_scrub(str(error), dsn, None)}",
            hint="fix the DSN of the service's deploy.schema",
        ) from None
    target = _Target(dsn, params)
    try:
        async with asyncio.timeout(timeout):
            try:
                conn = await _pgwire.connect(params, application_name="redline")
            except (_pgwire.WireError, OSError) as error:
                raise DeployError(
                    f"cannot read the schema revision: {target.connect_reason(error)}",
                    hint="the schema guard must read the database before a rollback",
                ) from None
            try:
                result = await conn.query(query)
            except _pgwire.ServerError as error:
                raise _query_error(error, target, table, column) from None
            except (_pgwire.WireError, OSError) as error:
                reason = _scrub(str(error) or type(error).__name__, dsn, params.password)
                raise DeployError(
                    f"cannot read the schema revision from {target}: {reason}"
                ) from None
            finally:
                await conn.close()
    except TimeoutError:
        raise DeployError(
            f"cannot read the schema revision: no answer from PostgreSQL at {target} "
            f"within {timeout:g}s (timeout)",
            hint="is the database up, and reachable from here?",
        ) from None
    revisions = sorted({str(value) for value in result.column(0) if value is not None})
    return ",".join(revisions) or None


def _quoted(name: str) -> str:
    parts = name.split(".")
    if not 1 <= len(parts) <= 2 or not all(_IDENTIFIER.fullmatch(p) for p in parts):
        raise DeployError(
            f"{name!r} is not a table or column name the schema guard can read",
            hint="use letters, digits and _ (a table may be schema.table)",
        )
    return ".".join(f'"{part}"' for part in parts)


def _query_error(error: Any, target: Any, table: str, column: str) -> DeployError:
    if error.sqlstate == _UNDEFINED_TABLE:
        return DeployError(
            f"cannot read the schema revision: no table {table} in {target.database} (at {target})",
            hint="is the database managed by Alembic, and does its search_path find the "
            "table? Set the schema guard's table (schema.table) if it lives elsewhere",
        )
    if error.sqlstate == _UNDEFINED_COLUMN:
        return DeployError(
            f"cannot read the schema revision: table {table} in {target.database} has no "
            f"column {column}",
            hint="set the schema guard's column to the one that holds the revision",
        )
    from redline.probes.postgres import _scrub

    message = _scrub(error.message, target.dsn, target.password)
    return DeployError(
        f"cannot read the schema revision from {target}: {message} (SQLSTATE {error.sqlstate})"
    )
