"""Create schema self_delivery and its couriers table (one row per courier user).

Revision ID: 0002_self_delivery_couriers
Revises: 0001_marten_users
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_self_delivery_couriers"
down_revision: str | None = "0001_marten_users"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS self_delivery")
    op.create_table(
        "couriers",
        sa.Column(
            "user_id",
            sa.BigInteger,
            sa.ForeignKey("marten.users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("status", sa.Text, nullable=False, server_default="offline"),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.CheckConstraint("status IN ('offline', 'online')", name="couriers_status_valid"),
        schema="self_delivery",
    )


def downgrade() -> None:
    op.drop_table("couriers", schema="self_delivery")
    op.execute("DROP SCHEMA IF EXISTS self_delivery")
