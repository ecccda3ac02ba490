"""Statement-level triggers so bulk loads into core tables stay fast.

Revision ID: 0010
Revises: 0009
"""

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    """Nothing yet: the statement-level triggers follow in the next revision of this file."""


def downgrade() -> None:
    """Nothing to undo yet."""
