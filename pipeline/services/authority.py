"""Field authority: which system's value each field of a golden record shows."""

from __future__ import annotations

from collections.abc import Mapping

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from pipeline.choices import AUTHORITY_FIELDS
from pipeline.models import FieldAuthority, SourceSystem
from pipeline.services.identity import golden_resolve


@transaction.atomic
def field_authority_set(
    *,
    object_type: str,
    rules: Mapping[str, SourceSystem | None],
    by: AbstractBaseUser | None,
) -> list[str]:
    """Set the rules of one object type: for each field given, the system whose value its
    golden records show (None removes the rule; then the default system order decides). When a
    rule changed, that type's golden records are rebuilt now, in this transaction, so whoever
    changed it (the authority page, a dispute's correction) can rely on them straight away.
    Returns the fields whose rule changed; refuses a field that no rule decides."""
    if object_type not in AUTHORITY_FIELDS:
        raise ValidationError(f"{object_type!r} has no field authority rules.")
    for field in rules:
        if field not in AUTHORITY_FIELDS[object_type]:
            raise ValidationError(
                f"{field!r} is not a field of a {object_type} that a rule decides."
            )
    current = dict(
        FieldAuthority.objects.filter(object_type=object_type).values_list("field", "system_id")
    )
    changed = []
    for field, system in rules.items():
        if current.get(field) == (system.pk if system else None):
            continue
        changed.append(field)
        if system is None:
            FieldAuthority.objects.filter(object_type=object_type, field=field).delete()
        else:
            FieldAuthority.objects.update_or_create(
                object_type=object_type,
                field=field,
                defaults={"system": system, "updated_by": by},
            )
    if changed:
        golden_resolve(object_types=(object_type,))
    return changed
