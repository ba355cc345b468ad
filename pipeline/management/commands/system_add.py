"""python manage.py system_add --name HubSpot --vendor hubspot --role marketing [--slug hubspot]
[--record-url 'https://app.hubspot.com/contacts/123/record/0-1/{id}']"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from pipeline.choices import SystemRole, Vendor
from pipeline.services.systems import system_add


class Command(BaseCommand):
    help = "Add a source system, the way ops do on the Systems page."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True, help="As people call it, e.g. HubSpot.")
        parser.add_argument("--vendor", required=True, choices=Vendor.values)
        parser.add_argument("--role", required=True, choices=SystemRole.values)
        parser.add_argument(
            "--slug", default="", help="What imports name it by (default: from the name)."
        )
        parser.add_argument(
            "--match-by-phone",
            action="store_true",
            help="Match its leads without an email to others by phone number.",
        )
        parser.add_argument(
            "--record-url",
            default="",
            help="Where a record opens in it, {id} standing for its id: "
            "https://acme.my.salesforce.com/{id}.",
        )

    def handle(
        self,
        *args,
        name: str,
        vendor: str,
        role: str,
        slug: str,
        match_by_phone: bool,
        record_url: str,
        **options,
    ) -> None:
        try:
            system = system_add(
                by=None,
                name=name,
                vendor=vendor,
                role=role,
                slug=slug,
                match_by_phone=match_by_phone,
                record_url_template=record_url,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Added {system.name} ({system.get_vendor_display()}, "
                f"{system.get_role_display().lower()}): import with --system {system.slug}"
            )
        )
