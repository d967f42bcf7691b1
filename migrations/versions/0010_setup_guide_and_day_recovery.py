"""the setup guide's dismissal, and a merchant's request to recover one day's orders

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 04:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("shops") as batch:
        batch.add_column(sa.Column("setup_dismissed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "day_recoveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seen", sa.Integer(), server_default="0", nullable=False),
        sa.Column("found", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_day_recoveries_shop_id_shops"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_day_recoveries")),
    )
    op.create_index(op.f("ix_day_recoveries_shop_id"), "day_recoveries", ["shop_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_day_recoveries_shop_id"), table_name="day_recoveries")
    op.drop_table("day_recoveries")
    with op.batch_alter_table("shops") as batch:
        batch.drop_column("setup_dismissed_at")
