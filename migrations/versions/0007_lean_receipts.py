"""webhook receipts: only the indexes a webhook's INSERT needs

Every acknowledged order writes one receipt, and each index on the table is one more page written in
that commit. The shop and time indexes served two rare jobs (a shop's redaction, the daily retention
purge) that now read the table in id order instead.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 17:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_webhook_receipts_shop_domain', table_name='webhook_receipts')
    op.drop_index('ix_webhook_receipts_received_at', table_name='webhook_receipts')


def downgrade():
    op.create_index('ix_webhook_receipts_received_at', 'webhook_receipts', ['received_at'], unique=False)
    op.create_index('ix_webhook_receipts_shop_domain', 'webhook_receipts', ['shop_domain'], unique=False)
