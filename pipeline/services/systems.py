"""Source systems: ops add, rename and retire them here, on the Systems page or with
`manage.py system_add`. A retired system keeps its records, batches and history; it takes no
new imports and can be brought back."""

from __future__ import annotations

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from pipeline.choices import ObjectType, SystemRole, Vendor
from pipeline.models import SourceSystem
from pipeline.models.systems import record_url_template_validate

logger = logging.getLogger(__name__)


def _check(name: str, role: str, vendor: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("Give the system a name, e.g. HubSpot.")
    if len(name) > 100:
        raise ValidationError("A system's name is at most 100 characters.")
    if role not in SystemRole.values:
        raise ValidationError(
            f"{role!r} is not a role; choose one of {', '.join(SystemRole.values)}."
        )
    if vendor not in Vendor.values:
        raise ValidationError(
            f"{vendor!r} is not a vendor; choose one of {', '.join(Vendor.values)}."
        )
    return name


def _record_url(template: str) -> str:
    """The template as stored, stripped; refused in a sentence when it is not an http(s)
    address with {id} after its host."""
    template = (template or "").strip()
    if len(template) > 500:
        raise ValidationError("A record URL is at most 500 characters.")
    try:
        record_url_template_validate(template)
    except ValidationError as exc:
        raise ValidationError({"record_url_template": exc.messages}) from None
    return template


@transaction.atomic
def system_add(
    *,
    by: AbstractBaseUser | None,
    name: str,
    role: str,
    vendor: str,
    slug: str = "",
    match_by_phone: bool = False,
    record_url_template: str = "",
) -> SourceSystem:
    """A new source system. Its slug (what imports and the command line name it by) is made
    from the name unless given; a name or slug already taken is refused in a sentence, and so
    is a record URL that is not an http(s) address with {id} in it."""
    name = _check(name, role, vendor)
    record_url_template = _record_url(record_url_template)
    slug = slugify(slug or name)[:50]
    if not slug:
        raise ValidationError("The name needs a letter or a digit to make the system's slug.")
    if SourceSystem.objects.filter(slug=slug).exists():
        raise ValidationError(f"There is already a system with the slug {slug!r}.")
    if SourceSystem.objects.filter(name__iexact=name).exists():
        raise ValidationError(f"There is already a system named {name!r}.")
    try:
        with transaction.atomic():
            system = SourceSystem.objects.create(
                name=name,
                slug=slug,
                role=role,
                vendor=vendor,
                match_by_phone=match_by_phone,
                record_url_template=record_url_template,
            )
    except IntegrityError:
        raise ValidationError(f"There is already a system named {name!r}.") from None
    logger.info("Source system %s added by %s", slug, by)
    return system


@transaction.atomic
def system_update(
    *,
    by: AbstractBaseUser | None,
    system: SourceSystem,
    name: str,
    role: str,
    vendor: str,
    match_by_phone: bool | None = None,
    record_url_template: str | None = None,
) -> SourceSystem:
    """Rename a system or change its role, vendor or record URL (None leaves it); its slug
    stays, so imports keep working. Turning matching by phone on or off re-matches the
    system's stored leads that have a phone and no usable email, set-based."""
    name = _check(name, role, vendor)
    if record_url_template is not None:
        system.record_url_template = _record_url(record_url_template)
    if SourceSystem.objects.filter(name__iexact=name).exclude(pk=system.pk).exists():
        raise ValidationError(f"There is already a system named {name!r}.")
    phone_changed = match_by_phone is not None and match_by_phone != system.match_by_phone
    system.name, system.role, system.vendor = name, role, vendor
    if match_by_phone is not None:
        system.match_by_phone = match_by_phone
    system.save(update_fields=["name", "role", "vendor", "match_by_phone", "record_url_template"])
    if phone_changed:
        _rematch_by_phone(system)
    logger.info("Source system %s changed by %s", system.slug, by)
    return system


def _rematch_by_phone(system: SourceSystem) -> None:
    """Re-resolve the system's leads with a phone: the keys they have now and the two they
    may move to (their phone, their id in the system), so the leads they leave go."""
    from pipeline.services.identity import golden_resolve_keys

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT golden_key FROM pipeline_sourcelead WHERE system_id = %s AND phone_key <> ''
            UNION SELECT 'tel:' || phone_key FROM pipeline_sourcelead
                  WHERE system_id = %s AND phone_key <> ''
            UNION SELECT %s || ':' || external_id FROM pipeline_sourcelead
                  WHERE system_id = %s AND phone_key <> ''
            """,
            [system.pk, system.pk, system.slug, system.pk],
        )
        keys = [k for (k,) in cursor.fetchall()]
    if keys:
        golden_resolve_keys(object_type=ObjectType.LEAD, keys=keys)


@transaction.atomic
def system_retire(
    *, by: AbstractBaseUser | None, system: SourceSystem, retired: bool = True
) -> SourceSystem:
    """Retire a system (no new imports; its records stay) or bring it back."""
    system.retired_at = timezone.now() if retired else None
    system.save(update_fields=["retired_at"])
    logger.info("Source system %s %s by %s", system.slug, "retired" if retired else "restored", by)
    return system
