# Reconciliation reads each system's source rows in (golden key, created, id) order: these
# indexes let it merge-join the two systems and spot duplicates without sorting, and include
# the compared columns so it never reads the wide rows (an index-only scan).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('pipeline', '0004_reconciliation_models'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='sourcedeal',
            index=models.Index(fields=['system', 'golden_key', 'created_at', 'id'], include=['external_id', 'name', 'amount', 'stage', 'close_date', 'source', 'deal_type'], name='pipeline_srcdeal_recon_idx'),
        ),
        migrations.AddIndex(
            model_name='sourcelead',
            index=models.Index(fields=['system', 'golden_key', 'created_at', 'id'], include=['external_id', 'email', 'stage', 'source', 'owner', 'mql_at', 'sql_at'], name='pipeline_srclead_recon_idx'),
        ),
    ]
