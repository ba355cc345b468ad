"""The table of the database cache (settings.CACHES["scorecard"] without Redis), as Django's
createcachetable makes it, but unlogged: a cache needs no crash safety, and its writes skip
the write-ahead log."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("revops", "0003_two_factor_admin")]

    operations = [
        migrations.RunSQL(
            """
            CREATE UNLOGGED TABLE IF NOT EXISTS revops_cache (
                cache_key varchar(255) NOT NULL PRIMARY KEY,
                value text NOT NULL,
                expires timestamp with time zone NOT NULL
            );
            CREATE INDEX IF NOT EXISTS revops_cache_expires ON revops_cache (expires);
            """,
            "DROP TABLE IF EXISTS revops_cache",
        )
    ]
