"""shops: the pasted pixel's version and the state of Pinbridge's app pixel

The custom pixel's beacons report the version of the code the merchant pasted, so the page can say when
it no longer matches the shop's settings. The app pixel Pinbridge creates with webPixelCreate is kept by
its id, with the settings last given to Shopify and Shopify's last answer.

Existing shops keep their currency setting: the new default (the buyer's currency) applies to shops
created from now on, and is a model default, not a server default.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 04:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('shops') as batch:
        batch.add_column(sa.Column('pixel_version', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('web_pixel_id', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('web_pixel_settings', sa.Text(), nullable=True))
        batch.add_column(sa.Column('web_pixel_checked_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('web_pixel_error', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('shops') as batch:
        batch.drop_column('web_pixel_error')
        batch.drop_column('web_pixel_checked_at')
        batch.drop_column('web_pixel_settings')
        batch.drop_column('web_pixel_id')
        batch.drop_column('pixel_version')
