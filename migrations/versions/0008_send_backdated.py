"""pinterest settings: how back-dated orders are sent

An order dated long before it reached Pinbridge (imported by an app, back-dated by staff) was not placed
online just now; `send_backdated` says whether such an order, whose class would send it as web, goes as
an offline conversion (the default, as Pinterest reports a late event), is skipped, or goes as web.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 04:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("pinterest_settings") as batch:
        batch.add_column(sa.Column("send_backdated", sa.String(20), nullable=False, server_default="offline"))


def downgrade():
    with op.batch_alter_table("pinterest_settings") as batch:
        batch.drop_column("send_backdated")
