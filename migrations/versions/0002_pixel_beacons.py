"""pixel beacons

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 22:50:00

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pixel_beacons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('checkout_token', sa.String(length=64), nullable=False),
    sa.Column('tag_event_id', sa.String(length=255), nullable=True),
    sa.Column('click_id', sa.String(length=512), nullable=True),
    sa.Column('consent_marketing', sa.Boolean(), nullable=True),
    sa.Column('consent_sale_of_data', sa.Boolean(), nullable=True),
    sa.Column('user_agent', sa.String(length=512), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_pixel_beacons_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pixel_beacons')),
    sa.UniqueConstraint('shop_id', 'checkout_token', name='uq_pixel_beacons_shop_id_checkout_token')
    )
    op.create_index(op.f('ix_pixel_beacons_received_at'), 'pixel_beacons', ['received_at'], unique=False)
    with op.batch_alter_table('shops') as batch:
        batch.add_column(sa.Column('pixel_seen_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('pinterest_settings') as batch:
        batch.add_column(sa.Column('tag_id', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('marketing_refused', sa.String(length=20), server_default='skip', nullable=False))
        batch.add_column(sa.Column('sale_of_data_refused', sa.String(length=20), server_default='limited',
                                   nullable=False))
    with op.batch_alter_table('events') as batch:
        batch.add_column(sa.Column('tag_event_id', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('tag_matched', sa.Boolean(), nullable=True))


def downgrade():
    with op.batch_alter_table('events') as batch:
        batch.drop_column('tag_matched')
        batch.drop_column('tag_event_id')
    with op.batch_alter_table('pinterest_settings') as batch:
        batch.drop_column('sale_of_data_refused')
        batch.drop_column('marketing_refused')
        batch.drop_column('tag_id')
    with op.batch_alter_table('shops') as batch:
        batch.drop_column('pixel_seen_at')
    op.drop_index(op.f('ix_pixel_beacons_received_at'), table_name='pixel_beacons')
    op.drop_table('pixel_beacons')
