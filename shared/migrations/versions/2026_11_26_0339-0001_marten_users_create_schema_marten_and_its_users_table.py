"""Create schema marten and its users table.

email and password_hash are nullable on purpose: users provisioned by the identity provider
(Supabase) exist before they ever set a local password, and are seeded by external_id alone.
Login requires both; uniqueness still holds for every email that is set.

Revision ID: 0001_marten_users
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_marten_users"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS marten")
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column(
            "external_id",
            postgresql.UUID(as_uuid=True),
            nullable=False,
            unique=True,
            server_default=sa.text("gen_random_uuid()"),
        ),
        sa.Column("email", sa.Text, nullable=True, unique=True),
        sa.Column("password_hash", sa.Text, nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.CheckConstraint("email = lower(email)", name="users_email_lowercase"),
        schema="marten",
    )


def downgrade() -> None:
    op.drop_table("users", schema="marten")
    op.execute("DROP SCHEMA IF EXISTS marten")
