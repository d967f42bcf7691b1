"""order classes and mapping

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 22:50:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


SEND_COLUMNS = (("send_pos", "skip"), ("send_draft", "skip"), ("send_subscription", "skip"),
                ("send_other_channels", "web"))


def upgrade():
    with op.batch_alter_table("pinterest_settings") as batch:
        for name, default in SEND_COLUMNS:
            batch.add_column(sa.Column(name, sa.String(20), nullable=False, server_default=default))
        batch.add_column(sa.Column("shop_country", sa.String(2), nullable=True))
    # Shops that had switched on "include offline orders" keep sending POS and draft orders as offline.
    op.execute(sa.text("UPDATE pinterest_settings SET send_pos = 'offline', send_draft = 'offline' "
                       "WHERE include_offline_orders = :yes").bindparams(yes=True))


def downgrade():
    with op.batch_alter_table("pinterest_settings") as batch:
        batch.drop_column("shop_country")
        for name, _default in reversed(SEND_COLUMNS):
            batch.drop_column(name)
