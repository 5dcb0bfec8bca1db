"""Baselines: the rule each (name, environment) is judged by, kept as a history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

Also indexes runs by (name, environment, branch, started_at): one metric's history
and a baseline's candidate runs are read that way, whatever their kind.

A snapshot like 0001: types and names are spelled out, not imported from tables.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.String(32)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_index(
        "ix_runs_name_environment_branch_started_at",
        "runs",
        ["name", "environment", "branch", "started_at"],
    )
    op.create_table(
        "baselines",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("environment", sa.Text()),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("rule_kind", sa.Text(), nullable=False),
        sa.Column("rule_value", JSON, nullable=False),
        sa.Column("run_ids", JSON, nullable=False),
        sa.Column("start_run_id", ID),
        sa.Column("start_at", TIME),
        sa.Column("reason", sa.Text()),
        sa.Column("who_user", sa.Text()),
        sa.Column("who_host", sa.Text()),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_baselines"),
    )
    op.create_index(
        "ix_baselines_name_environment_created_at",
        "baselines",
        ["name", "environment", "created_at"],
    )


def downgrade() -> None:
    op.drop_table("baselines")
    op.drop_index("ix_runs_name_environment_branch_started_at", table_name="runs")
