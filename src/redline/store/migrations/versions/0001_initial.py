"""The initial store: runs, their metrics and histograms, samples, releases.

Revision ID: 0001
Revises:
Create Date: 2024-11-29

Migrations are snapshots: they spell out their types and constraint names
instead of importing them from tables.py, which moves on while this file must
keep producing the same schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(32)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("environment", sa.Text()),
        sa.Column("version", sa.Text()),
        sa.Column("commit", sa.Text()),
        sa.Column("branch", sa.Text()),
        sa.Column("host", sa.Text()),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("finished_at", TIME),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("summary", JSON, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index(
        "ix_runs_kind_name_branch_started_at", "runs", ["kind", "name", "branch", "started_at"]
    )
    op.create_index("ix_runs_environment_started_at", "runs", ["environment", "started_at"])
    op.create_index("ix_runs_started_at", "runs", ["started_at"])

    op.create_table(
        "run_metrics",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("unit", sa.Text()),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_run_metrics"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_run_metrics_run_id_runs", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("run_id", "name", name="uq_run_metrics_run_id_name"),
    )

    op.create_table(
        "histograms",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("encoded", sa.Text(), nullable=False),
        sa.Column("lowest", sa.BigInteger(), nullable=False),
        sa.Column("highest", sa.BigInteger(), nullable=False),
        sa.Column("significant_digits", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_histograms"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_histograms_run_id_runs", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("run_id", "name", name="uq_histograms_run_id_name"),
    )

    op.create_table(
        "samples",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("labels_key", sa.Text(), nullable=False),
        sa.Column("ts", TIME, nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_samples"),
    )
    op.create_index("ix_samples_name_labels_key_ts", "samples", ["name", "labels_key", "ts"])

    op.create_table(
        "releases",
        sa.Column("id", ID, nullable=False),
        sa.Column("environment", sa.Text(), nullable=False),
        sa.Column("services", JSON, nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("previous_release_id", ID),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("who_user", sa.Text()),
        sa.Column("who_host", sa.Text()),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("finished_at", TIME),
        sa.Column("reason", sa.Text()),
        sa.Column("config_snapshot", JSON),
        sa.Column("steps", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_releases"),
        sa.ForeignKeyConstraint(
            ["previous_release_id"],
            ["releases.id"],
            name="fk_releases_previous_release_id_releases",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_releases_environment_started_at", "releases", ["environment", "started_at"])


def downgrade() -> None:
    op.drop_table("releases")
    op.drop_table("samples")
    op.drop_table("histograms")
    op.drop_table("run_metrics")
    op.drop_table("runs")
