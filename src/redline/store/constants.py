"""Facts every part of the store agrees on; importing this module costs nothing.

Kept apart from :mod:`redline.store.migrate` and :mod:`redline.store.connection`
(which import SQLAlchemy) so that :mod:`redline.store.append` can use them on its
SQLAlchemy-free path.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BUSY_TIMEOUT_MS", "HEAD_REVISION", "VERSION_TABLE"]

# The schema revision this redline writes; see migrate.py for adding a migration.
HEAD_REVISION: Final = "0003"
VERSION_TABLE: Final = "alembic_version"
# How long a SQLite writer waits for another process's lock before giving up.
BUSY_TIMEOUT_MS: Final = 5000
