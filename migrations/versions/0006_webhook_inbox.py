"""webhook inbox: encrypted bodies waiting for the worker

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 12:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('webhook_receipts') as batch_op:
        batch_op.add_column(sa.Column('body', sa.LargeBinary(), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        # Encrypted bytes barely compress: store them out of line without spending CPU on trying.
        op.execute('ALTER TABLE webhook_receipts ALTER COLUMN body SET STORAGE EXTERNAL')
    op.create_index('ix_webhook_receipts_inbox', 'webhook_receipts', ['id'], unique=False,
                    postgresql_where=sa.text('body IS NOT NULL'), sqlite_where=sa.text('body IS NOT NULL'))


def downgrade():
    op.drop_index('ix_webhook_receipts_inbox', table_name='webhook_receipts')
    with op.batch_alter_table('webhook_receipts') as batch_op:
        batch_op.drop_column('body')
