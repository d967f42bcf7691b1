"""one failure streak: shop_delivery_states.consecutive_failures goes, pinterest_settings.failure_streak stays

A shop's failures in a row were counted twice: `pinterest_settings.failure_streak`, which the backoff is
measured by, and `shop_delivery_states.consecutive_failures`, bumped with it and reset by other rules.
The merchant's page only ever asked the second whether a run of failures was under way, which the state
row's `failure_class` says on its own (both are set and cleared together), so the streak the backoff
uses is kept as it is and the other count is dropped. A downgrade rebuilds it from the two.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 04:20:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('shop_delivery_states') as batch_op:
        batch_op.drop_column('consecutive_failures')


def downgrade():
    with op.batch_alter_table('shop_delivery_states') as batch_op:
        batch_op.add_column(sa.Column('consecutive_failures', sa.Integer(), server_default='0', nullable=False))
    # A run under way counts at least one failure, as it always did; the streak when it counted more.
    op.execute(
        "UPDATE shop_delivery_states SET consecutive_failures = COALESCE(("
        "SELECT CASE WHEN s.failure_streak > 0 THEN s.failure_streak ELSE 1 END FROM pinterest_settings s "
        "WHERE s.shop_id = shop_delivery_states.shop_id), 1) WHERE failure_class IS NOT NULL"
    )
