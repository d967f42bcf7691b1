"""webhook receipts: bodies no configured key can open are held, sealed, not deleted

A waiting body that ENCRYPTION_KEY cannot open moves from `body` to `held_body` with `held_keys`, the
fingerprint of the key set that tried it; it is tried again under another key set (app/unreadable.py) and
deleted with its receipt by retention.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 05:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('webhook_receipts') as batch_op:
        batch_op.add_column(sa.Column('held_body', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('held_keys', sa.String(16), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE webhook_receipts ALTER COLUMN held_body SET STORAGE EXTERNAL')
    op.create_index('ix_webhook_receipts_held', 'webhook_receipts', ['id'], unique=False,
                    postgresql_where=sa.text('held_body IS NOT NULL'),
                    sqlite_where=sa.text('held_body IS NOT NULL'))


def downgrade():
    op.drop_index('ix_webhook_receipts_held', table_name='webhook_receipts')
    with op.batch_alter_table('webhook_receipts') as batch_op:
        batch_op.drop_column('held_keys')
        batch_op.drop_column('held_body')
