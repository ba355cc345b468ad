"""Import presets: column mappings ops staff save under a name, from the mapping page or the API."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from pipeline.models import ImportPreset
from pipeline.presets import BUILTIN_PRESETS, Mapping, mapping_from_dict

NAME_MAX_LENGTH = ImportPreset._meta.get_field("name").max_length


def import_preset_name_check(name: str) -> str:
    """The name a new preset is saved under, trimmed. Refuses a blank name, one too long, and
    the name of a built-in or saved preset (a name picks one mapping on every entry point)."""
    name = name.strip()
    if not name:
        raise ValidationError("Give the preset a name.")
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(f"A preset name has at most {NAME_MAX_LENGTH} characters.")
    if name in BUILTIN_PRESETS or ImportPreset.objects.filter(name=name).exists():
        raise ValidationError("A preset with this name exists; choose another name.")
    return name


@transaction.atomic
def import_preset_save(
    *, name: str, mapping: dict, by: AbstractBaseUser | None, object_type: str | None = None
) -> ImportPreset:
    """Save a mapping (the JSON shape of `import_records --mapping`) as a new preset, checked as
    an import checks it. With `object_type`, the mapping must read that type. A mapping that
    extends a built-in preset is stored as given (its base's key and the overrides), so it
    follows the built-in preset. Raises ValidationError: keyed by `name` for the name, and
    listing every problem of the mapping."""
    try:
        name = import_preset_name_check(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None
    checked = mapping_from_dict(mapping, object_type=object_type)
    try:
        with transaction.atomic():
            return ImportPreset.objects.create(
                name=name,
                object_type=checked.object_type,
                mapping=_extension(mapping, checked) if checked.extends else checked.to_dict(),
                created_by=by,
            )
    except IntegrityError:
        # Saved from another tab between the check and the insert.
        raise ValidationError(
            {"name": "A preset with this name exists; choose another name."}
        ) from None


_EXTENSION_KEYS = ("date_order", "decimal_separator", "timezone", "ignore", "fields")


def _extension(given: dict, checked: Mapping) -> dict:
    """What is stored of a mapping that extends a built-in preset: its base and overrides."""
    out = {"extends": checked.extends, "object": checked.object_type}
    out.update({k: given[k] for k in _EXTENSION_KEYS if k in given})
    return out
