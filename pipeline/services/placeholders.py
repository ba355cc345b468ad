"""Placeholder emails: addresses people type when a form demands one (`a@a.com`,
`noemail@…`). Ops edit the list on the Systems page; a lead whose email is on it never merges
with another lead by that email (identity keys it as if it had none), and each import counts
the placeholders it saw as a data-quality finding."""

from __future__ import annotations

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from psycopg import sql as pg_sql

from pipeline.choices import FindingKind, ObjectType
from pipeline.models import ImportBatch, PlaceholderEmail
from pipeline.normalise import NormaliseError, domain_key
from pipeline.services.findings import detector, findings_record

logger = logging.getLogger(__name__)


def placeholder_pattern(raw: str) -> str:
    """The stored form of a pattern: an address as its email key, or a prefix ending in `@`
    (`NoEmail@` → `noemail@`). Raises ValidationError in a sentence."""
    value = (raw or "").strip()
    local, sep, domain = value.rpartition("@")
    if not sep or not local or " " in value:
        raise ValidationError(
            f"{raw!r} is neither an address (a@a.com) nor a prefix ending in @ (noemail@)."
        )
    if not domain:
        return f"{local.casefold()}@"
    try:
        return f"{local.casefold()}@{domain_key(domain)}"
    except NormaliseError:
        raise ValidationError(f"{raw!r} is not an email address.") from None


def placeholder_condition(column: str) -> str:
    """SQL: true when the email key in `column` is a placeholder. The list is read once and
    written into the statement as literals: a handful of comparisons per row, no join."""
    patterns = list(PlaceholderEmail.objects.values_list("pattern", flat=True))
    if not patterns:
        return "false"
    exact = [p for p in patterns if not p.endswith("@")]
    prefixes = [p for p in patterns if p.endswith("@")]
    parts = []
    if exact:
        parts.append(f"{column} = ANY({_lit(exact)}::text[])")
    parts += [f"starts_with({column}, {_lit(p)})" for p in prefixes]
    return "(" + " OR ".join(parts) + ")"


@detector(ObjectType.LEAD)
def _placeholder_emails(batch: ImportBatch, cols: list) -> None:
    """Each lead whose email is a placeholder: it imports, keyed as if it had no email."""
    email = next((c for c in cols if c.info.name == "email" and c.column), None)
    if email is None:
        return
    condition = placeholder_condition("n.email")
    if condition == "false":
        return
    findings_record(
        batch,
        kind=FindingKind.PLACEHOLDER_EMAIL,
        where=f"n.email IS NOT NULL AND {condition}",
        field="email",
        column=email.column,
        value="n.raw_email",
        message="'is a placeholder address: the lead is not matched by it'",
    )


def _lit(value: object) -> str:
    return pg_sql.Literal(value).as_string(connection.connection)


@transaction.atomic
def placeholder_add(*, by: AbstractBaseUser | None, pattern: str) -> PlaceholderEmail:
    """Add a placeholder email (or prefix). Leads already stored under it split into one lead
    per source record at once."""
    pattern = placeholder_pattern(pattern)
    if PlaceholderEmail.objects.filter(pattern=pattern).exists():
        raise ValidationError(f"{pattern} is already on the list.")
    item = PlaceholderEmail.objects.create(pattern=pattern, created_by=by)
    _reresolve(pattern)
    logger.info("Placeholder email %s added by %s", pattern, by)
    return item


@transaction.atomic
def placeholder_remove(*, by: AbstractBaseUser | None, item: PlaceholderEmail) -> None:
    """Take a pattern off the list: leads with that email merge by it again."""
    pattern = item.pattern
    item.delete()
    _reresolve(pattern)
    logger.info("Placeholder email %s removed by %s", pattern, by)


def _reresolve(pattern: str) -> None:
    """Re-key the stored leads whose email the pattern matches, set-based: their email keys and
    the keys they resolve to now are re-resolved, so the leads they leave are removed."""
    from pipeline.services.identity import golden_resolve_keys

    match = "starts_with(email_key, %s)" if pattern.endswith("@") else "email_key = %s"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT email_key FROM pipeline_sourcelead WHERE {match} "
            f"UNION SELECT golden_key FROM pipeline_sourcelead WHERE {match}",
            [pattern, pattern],
        )
        keys = [k for (k,) in cursor.fetchall()]
    if keys:
        golden_resolve_keys(object_type=ObjectType.LEAD, keys=keys)
