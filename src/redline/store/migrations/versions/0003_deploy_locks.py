"""Deploy locks: one row per environment while a deploy holds it, and their audit trail.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

A snapshot like 0001: types and names are spelled out, not imported from tables.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.String(32)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deploy_locks",
        sa.Column("environment", sa.Text(), nullable=False),
        sa.Column("token", ID, nullable=False),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("acquired_at", TIME, nullable=False),
        sa.Column("heartbeat_at", TIME, nullable=False),
        sa.Column("ttl_seconds", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("environment", name="pk_deploy_locks"),
    )
    op.create_table(
        "lock_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("environment", sa.Text(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("previous_owner", sa.Text()),
        sa.Column("at", TIME, nullable=False),
        sa.Column("detail", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_lock_events"),
    )
    op.create_index("ix_lock_events_environment_at", "lock_events", ["environment", "at"])


def downgrade() -> None:
    op.drop_table("lock_events")
    op.drop_table("deploy_locks")
