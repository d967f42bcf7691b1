"""shopify daily orders

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 10:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    # Shopify's own order count per whole day of the shop (in `timezone`), from reconciliation's reads.
    op.create_table(
        "shopify_daily_orders",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_shopify_daily_orders_shop_id_shops"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("shop_id", "day", name=op.f("pk_shopify_daily_orders")),
    )


def downgrade():
    op.drop_table("shopify_daily_orders")
