"""order status

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new'")
    op.execute("ALTER TABLE orders ADD COLUMN paid_at timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE orders DROP COLUMN paid_at")
    op.execute("ALTER TABLE orders DROP COLUMN status")
