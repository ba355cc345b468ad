"""Fill the converted amounts of the records that exist: no exchange rate exists yet, so a
record in the company currency converts at 1 and any other stays NULL (unconverted) until ops
enter its rates, which reconverts it."""

from __future__ import annotations

from django.conf import settings
from django.db import migrations

DEAL_TABLES = ("pipeline_deal", "pipeline_sourcedeal")
ARR_TABLES = ("pipeline_arrchange", "pipeline_sourcearrchange")


def fill(apps, schema_editor) -> None:
    company = settings.COMPANY_CURRENCY
    with schema_editor.connection.cursor() as cursor:
        for table in DEAL_TABLES:
            cursor.execute(
                f"UPDATE {table} SET amount_at_close = amount, amount_at_creation = amount "
                "WHERE currency = %s",
                [company],
            )
        for table in ARR_TABLES:
            cursor.execute(
                f"UPDATE {table} SET amount_converted = amount WHERE currency = %s", [company]
            )


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0011_exchange_rates_converted_amounts")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
