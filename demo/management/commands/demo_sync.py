"""python manage.py demo_sync: what `make demo-sync` runs.

Serves local stand-ins of HubSpot's and Salesforce's APIs (demo/fakes) holding the demo's own
records (each system's source records, written back in its API's field names), connects the
demo's HubSpot and Salesforce systems to them, syncs each once, and keeps serving, so that
"Sync now" on a connection page and the Nightly sync schedule (with a worker and beat) pull
from them. Every few minutes it changes a few records there, as people would, so each later
sync has something to bring.

The Salesforce stand-in speaks HTTPS with a certificate kept in var/demo-sync/: start the demo
with CONNECTOR_CA_BUNDLE=var/demo-sync/cert.pem so the app trusts it."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from pipeline.choices import ConnectorAuth, SyncTrigger
from pipeline.models import SOURCE_MODELS, SourceSystem
from pipeline.presets import builtin_preset
from pipeline.services.sync import connection_save, sync_start

HUBSPOT_PORT, SALESFORCE_PORT = 8765, 8766
# object type: (the API's object, the built-in preset naming its fields)
HUBSPOT_TYPES = {  # companies first: contacts and deals name them
    "account": ("companies", "hubspot-api-company"),
    "lead": ("contacts", "hubspot-api-contact"),
    "deal": ("deals", "hubspot-api-deal"),
}
SALESFORCE_TYPES = {
    "lead": ("Lead", "salesforce-lead"),
    "account": ("Account", "salesforce-account"),
    "deal": ("Opportunity", "salesforce-opportunity"),
}


def _value(mapping_field, value):
    """A stored value as the vendor's API writes it: a choice back to a vendor value."""
    if value is None or value == "":
        return None
    if mapping_field.values:
        for theirs, ours in mapping_field.values.items():
            if ours == value and theirs != "*":
                return theirs
        return "Web" if "*" in mapping_field.values else value
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value


def _rows(system: SourceSystem, object_type: str, preset: str):
    """The system's live source records of `object_type` as {column: value} of `preset`."""
    mapping = builtin_preset(preset)
    model = SOURCE_MODELS[object_type]
    fields = {f.name for f in model._meta.get_fields()}
    for record in model.objects.filter(system=system, deleted_at__isnull=True).iterator():
        row = {}
        for name, spec in mapping.fields.items():
            if spec.column and name in fields:
                row[spec.column] = _value(spec, getattr(record, name))
        yield row


class Command(BaseCommand):
    help = "Serve fakes of HubSpot's and Salesforce's APIs with the demo's records; sync them."

    def handle(self, *args, **options) -> None:
        from demo.fakes.hubspot import DEFAULT_TOKEN, FakeHubSpot, hubspot_time
        from demo.fakes.salesforce import FakeSalesforce

        systems = {
            s.vendor: s for s in SourceSystem.objects.filter(slug__in=["hubspot", "salesforce"])
        }
        if len(systems) < 2:
            raise CommandError("Seed the demo first (make demo): it has no HubSpot and Salesforce.")
        folder = Path(settings.BASE_DIR) / "var" / "demo-sync"
        hubspot = FakeHubSpot(port=HUBSPOT_PORT)
        salesforce = FakeSalesforce(port=SALESFORCE_PORT, folder=folder)
        settings.CONNECTOR_CA_BUNDLE = salesforce.ca_file
        counts = {}
        for object_type, (kind, preset) in HUBSPOT_TYPES.items():
            n = 0
            for row in _rows(systems["hubspot"], object_type, preset):
                company = row.pop("associations.companies", None)
                props = {
                    k: hubspot_time(v) if isinstance(v, datetime) else v
                    for k, v in row.items()
                    if k != "hs_object_id"
                }
                rid = row.get("hs_object_id")
                new = hubspot.add(
                    kind, props, associations={"companies": [company]} if company else None
                )
                # Keep the demo's ids: the sync then matches the records it already holds.
                record = hubspot.records[kind].pop(new)
                record["properties"]["hs_object_id"] = rid
                hubspot.records[kind][str(rid)] = record
                n += 1
            counts[f"HubSpot {kind}"] = n
        for object_type, (sobject, preset) in SALESFORCE_TYPES.items():
            n = 0
            for row in _rows(systems["salesforce"], object_type, preset):
                rid = row.pop("Id")
                new = salesforce.add(sobject, row)
                record = salesforce.objects[sobject].pop(new)
                record["Id"] = rid
                salesforce.objects[sobject][rid] = record
                n += 1
            counts[f"Salesforce {sobject}"] = n
        hubspot.thread.start()
        salesforce.thread.start()
        self.stdout.write(
            "Serving " + ", ".join(f"{v:,} {k}" for k, v in counts.items()) + f"\n  HubSpot at "
            f"{hubspot.base}\n  Salesforce at {salesforce.base} (certificate {salesforce.ca_file})"
        )
        key = folder / "connected-app-private-key.pem"
        key.write_text(salesforce.private_key)
        conns = [
            connection_save(system=systems["hubspot"], by=None, auth=ConnectorAuth.HUBSPOT_TOKEN,
                            url=hubspot.base, token=DEFAULT_TOKEN),
            connection_save(system=systems["salesforce"], by=None,
                            auth=ConnectorAuth.SALESFORCE_JWT, url=salesforce.base,
                            username=salesforce.username, consumer_key=salesforce.consumer_key,
                            private_key=salesforce.private_key),
        ]  # fmt: skip
        for conn in conns:
            run = sync_start(conn=conn, trigger=SyncTrigger.COMMAND, run_now=True)
            self.stdout.write(f"  first sync of {conn.system.name}: {run.status} {run.message}")
        self.stdout.write(
            "Start the demo with CONNECTOR_CA_BUNDLE=var/demo-sync/cert.pem so it trusts the "
            "Salesforce stand-in; then Records → Systems → Connect the API shows both. "
            "Ctrl-C stops."
        )
        rng = random.Random(7)
        try:
            while True:
                time.sleep(300)
                self._activity(rng, hubspot, salesforce)
        except KeyboardInterrupt:
            pass
        finally:
            hubspot.server.shutdown()
            salesforce.server.shutdown()

    def _activity(self, rng, hubspot, salesforce) -> None:
        """A few changes, as a working day brings: leads move on, one is deleted."""
        contacts = [r for r, rec in hubspot.records["contacts"].items() if not rec["archived"]]
        for rid in rng.sample(contacts, min(5, len(contacts))):
            hubspot.update("contacts", rid, {"lifecyclestage": "salesqualifiedlead"})
        leads = [r for r, rec in salesforce.objects["Lead"].items() if not rec["IsDeleted"]]
        for rid in rng.sample(leads, min(5, len(leads))):
            salesforce.update("Lead", rid, {"Status": "Working - Contacted"})
        if leads:
            salesforce.delete("Lead", rng.choice(leads))
        self.stdout.write(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC: changed a few records")
