"""The 1.1.0-badmigration build's revision 0003: it fails halfway through.

The first statement succeeds, the second refers to a column that does not exist. Because the
upgrade runs in one transaction (see env.py), PostgreSQL rolls the first statement back and the
database stays at 0002 without the new column.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("items", sa.Column("description", sa.Text, nullable=True))
    op.create_index("ix_items_description_owner", "items", ["owner_id"])


def downgrade() -> None:
    op.drop_column("items", "description")
