"""Field authority: which system's value each field of a golden record shows."""

from __future__ import annotations

from django.db import transaction

from pipeline.choices import AUTHORITY_FIELDS
from pipeline.models import FieldAuthority, SourceSystem


@transaction.atomic
def field_authority_update(*, object_type: str, rules: dict[str, int | None], user) -> list[str]:
    """Set the rules of one object type (None removes a field's rule) and queue the rebuild of
    that type's golden records. Returns the fields whose rule changed."""
    unknown = set(rules) - set(AUTHORITY_FIELDS[object_type])
    if unknown:
        raise ValueError(f"not authority fields of {object_type}: {sorted(unknown)}")
    current = dict(
        FieldAuthority.objects.filter(object_type=object_type).values_list("field", "system_id")
    )
    systems = {
        s.id: s for s in SourceSystem.objects.filter(id__in=[v for v in rules.values() if v])
    }
    changed = []
    for name, system_id in rules.items():
        if current.get(name) == system_id:
            continue
        changed.append(name)
        if system_id is None:
            FieldAuthority.objects.filter(object_type=object_type, field=name).delete()
        else:
            FieldAuthority.objects.update_or_create(
                object_type=object_type,
                field=name,
                defaults={"system": systems[system_id], "updated_by": user},
            )
    if changed:
        from pipeline.tasks import golden_rebuild_task

        transaction.on_commit(lambda: golden_rebuild_task.delay(object_type))
    return changed
