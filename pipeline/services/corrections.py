"""Corrections ops make to the golden records by hand: two leads marked as one person, a field
value overridden with its reason (a field authority rule is the third kind; it lives in
`pipeline.services.authority`). Each re-resolves the records it touches (set-based, like
imports) inside the caller's transaction, so whoever made the correction can recompute what
depends on it straight away."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from pipeline.choices import AUTHORITY_FIELDS, ObjectType
from pipeline.models import (
    OVERRIDABLE_TYPES,
    Account,
    Deal,
    FieldOverride,
    Lead,
    LeadAlias,
)
from pipeline.normalise import NormaliseError, email_key
from pipeline.services.identity import ResolveResult, golden_resolve_keys
from revops.currencies import currency_parse

GOLDEN_MODELS = {ObjectType.LEAD: Lead, ObjectType.ACCOUNT: Account, ObjectType.DEAL: Deal}


def golden_key_of(object_type: str, record) -> str:
    """The key a golden record is known by across re-imports."""
    return record.email_key if object_type == ObjectType.LEAD else record.key


def golden_get(object_type: str, key: str):
    """The golden record of `object_type` keyed `key`, or None."""
    model = GOLDEN_MODELS.get(object_type)
    if model is None:
        return None
    column = "email_key" if object_type == ObjectType.LEAD else "key"
    return model.objects.filter(**{column: key}).first()


@transaction.atomic
def lead_alias_create(
    *, alias_email: str, canonical_email: str, reason: str, by: AbstractBaseUser | None
) -> LeadAlias:
    """Mark two leads as one person: every source row of `alias_email` resolves to the lead of
    `canonical_email`, now and on every later import. Both must be golden leads today; an alias
    of an alias is pointed at the final lead, and aliases of the merged lead follow it."""
    try:
        alias_key, canonical_key = email_key(alias_email), email_key(canonical_email)
    except NormaliseError as exc:
        raise ValidationError(str(exc)) from None
    if not reason.strip():
        raise ValidationError("Say why these are the same lead; the reason is kept.")
    target = LeadAlias.objects.filter(alias_key=canonical_key).first()
    if target is not None:
        canonical_key = target.canonical_key
    if alias_key == canonical_key:
        raise ValidationError("A lead cannot be marked as the same as itself.")
    found = set(
        Lead.objects.filter(email_key__in=[alias_key, canonical_key]).values_list(
            "email_key", flat=True
        )
    )
    for key in (alias_key, canonical_key):
        if key not in found:
            raise ValidationError(f"There is no lead with the email {key}.")
    if LeadAlias.objects.filter(alias_key=alias_key).exists():
        raise ValidationError(f"{alias_key} is already marked as the same as another lead.")
    alias = LeadAlias.objects.create(
        alias_key=alias_key, canonical_key=canonical_key, reason=reason.strip(), created_by=by
    )
    # Leads merged into the one that is now an alias follow it to the final lead.
    LeadAlias.objects.filter(canonical_key=alias_key).update(canonical_key=canonical_key)
    moved = list(LeadAlias.objects.filter(canonical_key=canonical_key).values_list("alias_key"))
    golden_resolve_keys(object_type=ObjectType.LEAD, keys=[canonical_key, *(k for (k,) in moved)])
    return alias


def _parse(object_type: str, field: str, raw: str | None) -> str | None:
    """The text form of a value for `field`, checked as the golden column would; None for no
    value. Raises ValidationError naming the field."""
    model_field = GOLDEN_MODELS[object_type]._meta.get_field(field)
    raw = (raw or "").strip()
    if raw == "":
        if not model_field.null and not model_field.blank:
            raise ValidationError(f"{field} must have a value.")
        return None if model_field.null else ""
    internal = model_field.get_internal_type()
    try:
        if internal == "DateTimeField":
            value = parse_datetime(raw) or (
                datetime.combine(parse_date(raw), datetime.min.time()) if parse_date(raw) else None
            )
            if value is None:
                raise ValueError
            if timezone.is_naive(value):
                value = timezone.make_aware(value)
            return value.isoformat()
        if internal == "DateField":
            day = parse_date(raw)
            if day is None:
                raise ValueError
            return date.isoformat(day)
        if internal == "DecimalField":
            number = Decimal(raw.replace(",", ""))
            if not number.is_finite() or number < 0:
                raise ValueError
            if -number.normalize().as_tuple().exponent > model_field.decimal_places:
                # The column would round it; a correction keeps what was typed or refuses.
                raise ValidationError(
                    f"{field} holds at most {model_field.decimal_places} decimal places."
                )
            return str(number)
        if internal in ("PositiveIntegerField", "IntegerField"):
            return str(int(raw))
    except (ValueError, InvalidOperation):
        raise ValidationError(f"{raw!r} is not a valid value for {field}.") from None
    if model_field.choices and raw not in {str(c) for c, _ in model_field.choices}:
        allowed = ", ".join(str(c) for c, _ in model_field.choices)
        raise ValidationError(f"{raw!r} is not a {field}; use one of {allowed}.")
    if field == "currency":
        code = currency_parse(raw)
        if code is None:
            raise ValidationError(f"{raw[:40]} is not an ISO 4217 currency code.")
        return code
    if model_field.max_length and len(raw) > model_field.max_length:
        raise ValidationError(f"{field} holds at most {model_field.max_length} characters.")
    return raw


@transaction.atomic
def field_override_set(
    *,
    object_type: str,
    record_key: str,
    field: str,
    value: str | None,
    reason: str,
    by: AbstractBaseUser | None,
) -> FieldOverride:
    """Correct one field of one golden record by hand. The override wins over every source on
    this and every later resolution, until `field_override_remove`."""
    if object_type not in OVERRIDABLE_TYPES:
        raise ValidationError(f"A {object_type} cannot be corrected by hand.")
    if field not in AUTHORITY_FIELDS[object_type]:
        raise ValidationError(f"{field!r} is not a field of a {object_type} that can be corrected.")
    if not reason.strip():
        raise ValidationError("Say why the value is corrected; the reason is kept.")
    if golden_get(object_type, record_key) is None:
        raise ValidationError(f"There is no {object_type} {record_key}.")
    text = _parse(object_type, field, value)
    override, _ = FieldOverride.objects.update_or_create(
        object_type=object_type,
        record_key=record_key,
        field=field,
        defaults={"value": text, "reason": reason.strip(), "created_by": by},
    )
    golden_resolve_keys(object_type=object_type, keys=[record_key])
    return override


@transaction.atomic
def field_override_remove(*, override: FieldOverride) -> ResolveResult:
    """Remove a manual override: the field shows what field authority picks again."""
    object_type, key = override.object_type, override.record_key
    override.delete()
    return golden_resolve_keys(object_type=object_type, keys=[key])
