"""Change tracking for incremental ingestion: a transaction id per row and a log of deletes.

Revision ID: 0012
Revises: 0011
"""

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    """Nothing yet: the change_txid columns, triggers and delete log follow in the next revision of this file."""


def downgrade() -> None:
    """Nothing to undo yet."""
