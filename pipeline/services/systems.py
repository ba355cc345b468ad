"""Source systems: ops add, rename and retire them here, on the Systems page or with
`manage.py system_add`. A retired system keeps its records, batches and history; it takes no
new imports and can be brought back."""

from __future__ import annotations

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from pipeline.choices import SystemRole, Vendor
from pipeline.models import SourceSystem

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


@transaction.atomic
def system_add(
    *, by: AbstractBaseUser | None, name: str, role: str, vendor: str, slug: str = ""
) -> SourceSystem:
    """A new source system. Its slug (what imports and the command line name it by) is made
    from the name unless given; a name or slug already taken is refused in a sentence."""
    name = _check(name, role, vendor)
    slug = slugify(slug or name)[:50]
    if not slug:
        raise ValidationError("The name needs a letter or a digit to make the system's slug.")
    if SourceSystem.objects.filter(slug=slug).exists():
        raise ValidationError(f"There is already a system with the slug {slug!r}.")
    if SourceSystem.objects.filter(name__iexact=name).exists():
        raise ValidationError(f"There is already a system named {name!r}.")
    try:
        with transaction.atomic():
            system = SourceSystem.objects.create(name=name, slug=slug, role=role, vendor=vendor)
    except IntegrityError:
        raise ValidationError(f"There is already a system named {name!r}.") from None
    logger.info("Source system %s added by %s", slug, by)
    return system


@transaction.atomic
def system_update(
    *, by: AbstractBaseUser | None, system: SourceSystem, name: str, role: str, vendor: str
) -> SourceSystem:
    """Rename a system or change its role or vendor; its slug stays, so imports keep
    working."""
    name = _check(name, role, vendor)
    if SourceSystem.objects.filter(name__iexact=name).exclude(pk=system.pk).exists():
        raise ValidationError(f"There is already a system named {name!r}.")
    system.name, system.role, system.vendor = name, role, vendor
    system.save(update_fields=["name", "role", "vendor"])
    logger.info("Source system %s changed by %s", system.slug, by)
    return system


@transaction.atomic
def system_retire(
    *, by: AbstractBaseUser | None, system: SourceSystem, retired: bool = True
) -> SourceSystem:
    """Retire a system (no new imports; its records stay) or bring it back."""
    system.retired_at = timezone.now() if retired else None
    system.save(update_fields=["retired_at"])
    logger.info("Source system %s %s by %s", system.slug, "retired" if retired else "restored", by)
    return system
