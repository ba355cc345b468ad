"""Load the generated demo: systems, field-authority rules, saved presets, demo users, and
every system's export imported through the importer. Idempotent: a second run with the same
seed and date changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction

from demo import northwind
from pipeline.choices import BatchStatus, ObjectType
from pipeline.models import (
    FieldAuthority,
    ImportBatch,
    ImportPreset,
    Owner,
    Region,
    RegionCountry,
    SourceSystem,
    Team,
)
from pipeline.services.currency import exchange_rates_import
from pipeline.services.imports import import_batch_create, import_batch_run, mapping_for
from revops.permissions import Role

# Demo sign-ins: username → (role, first name, last name, title).
DEMO_USERS = {
    "exec": (Role.EXECUTIVE, "Erin", "Castillo", "Chief Revenue Officer"),
    "ops": (Role.OPS, "Omar", "Reyes", "RevOps Manager"),
    "sales": (Role.SALES_LEAD, "Sasha", "Novak", "VP Sales"),
    "marketing": (Role.MARKETING_LEAD, "Mina", "Okafor", "VP Marketing"),
}

# Who wins which field, as a RevOps team would first set it up.
DEFAULT_AUTHORITY = {
    ObjectType.LEAD: {
        "salesforce": (
            "stage",
            "owner",
            "sal_at",
            "sql_at",
            "converted_at",
            "disqualified_at",
            "first_touch_at",
            "country",
        ),
        "hubspot": ("first_name", "last_name", "company", "source", "created_at", "mql_at"),
    },
    ObjectType.ACCOUNT: {
        "salesforce": ("name", "industry", "segment", "country", "employees"),
        "gainsight": ("owner", "health", "renewal_date"),
    },
    ObjectType.DEAL: {
        "salesforce": (
            "name",
            "stage",
            "amount",
            "currency",
            "created_at",
            "close_date",
            "source",
            "deal_type",
            "owner",
            "product",
        ),
    },
}


@dataclass
class DemoResult:
    batches: list[ImportBatch]
    injected: dict[str, int]


class DemoLoadError(Exception):
    pass


def demo_systems_ensure() -> dict[str, SourceSystem]:
    systems = {}
    for slug, (name, role, vendor) in northwind.SYSTEMS.items():
        systems[slug], _ = SourceSystem.objects.get_or_create(
            slug=slug, defaults={"name": name, "role": role, "vendor": vendor}
        )
    return systems


def demo_authority_ensure(systems: dict[str, SourceSystem]) -> None:
    """Create the default rules that do not exist yet; never overwrite a rule ops changed."""
    for object_type, by_system in DEFAULT_AUTHORITY.items():
        for slug, fields in by_system.items():
            for name in fields:
                FieldAuthority.objects.get_or_create(
                    object_type=object_type, field=name, defaults={"system": systems[slug]}
                )


def demo_presets_ensure() -> None:
    """The customer-success exports have no built-in preset: save theirs, as ops would."""
    for name, mapping in northwind.GAINSIGHT_PRESETS.items():
        ImportPreset.objects.get_or_create(
            name=name, defaults={"object_type": mapping["object"], "mapping": mapping}
        )


def demo_dimensions_ensure() -> None:
    """The demo company's teams (with their managers and offices) and regions, as ops would
    import and define them; what ops changed since is kept."""
    for team_name, (manager, office, people) in northwind.TEAMS.items():
        team, _ = Team.objects.get_or_create(name=team_name, defaults={"manager": manager})
        for person in people:
            Owner.objects.get_or_create(key=person, defaults={"team": team, "office": office})
    for region_name, countries in northwind.REGIONS.items():
        region, _ = Region.objects.get_or_create(name=region_name)
        for country in countries:
            if not RegionCountry.objects.filter(country__iexact=country).exists():
                RegionCountry.objects.create(region=region, country=country)


def demo_users_ensure(password: str) -> list[tuple[str, str]]:
    """One user per role; the password is (re)set so the printed credentials always work."""
    User = get_user_model()
    for username, (role, first, last, _title) in DEMO_USERS.items():
        user, _ = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@northwind.example",
            },
        )
        user.set_password(password)
        user.save(update_fields=["password"])
        user.groups.set([Group.objects.get_or_create(name=role.value)[0]])
    return demo_users_describe()


def demo_users_describe() -> list[tuple[str, str]]:
    """Each demo user's name and who they are, as the sign-in lines print them."""
    return [
        (username, f"{role.label} — {first} {last}, {title}")
        for username, (role, first, last, title) in DEMO_USERS.items()
    ]


def demo_load(
    *, scale: float, seed: int, today: date, directory: Path, progress=None
) -> DemoResult:
    """Generate the demo, write each system's export as the CSV file it would produce, and
    import every file through the importer, as a user would. Each file applies whole or not
    at all; a file the importer refuses stops the demo with its first problems."""
    data = northwind.generate(scale=scale, seed=seed, today=today)
    systems = demo_systems_ensure()
    demo_authority_ensure(systems)
    demo_presets_ensure()
    demo_dimensions_ensure()
    files = northwind.export_frames(data)
    directory.mkdir(parents=True, exist_ok=True)
    # The rates first, as ops would enter them, so the deals convert as they are imported.
    rates_path = directory / "exchange_rates.csv"
    data.exchange_rates.to_csv(rates_path, index=False)
    with open(rates_path, "rb") as rates:
        exchange_rates_import(by=None, file=rates)
    batches = []
    for slug, object_type, name, preset in northwind.EXPORTS:
        path = directory / name
        files[name].to_csv(path, index=False)
        mapping, preset_name = mapping_for(object_type=object_type, preset=preset)
        batch = import_batch_create(
            system=systems[slug],
            object_type=object_type,
            mapping=mapping,
            preset=preset_name,
            apply=True,
            path=path,
        )
        batch = import_batch_run(batch.id, path=path)
        if batch.status != BatchStatus.APPLIED:
            problems = "; ".join(
                f"row {e.row} {e.column} {e.message}" for e in batch.row_errors.all()[:5]
            )
            raise DemoLoadError(f"{name}: {batch.message} {problems}")
        batches.append(batch)
        if progress:
            progress(batch)
    with transaction.atomic():
        _deal_history_load(data, systems["salesforce"].id)
        _lead_history_load(systems["salesforce"].id)
    return DemoResult(batches=batches, injected=data.injected)


def _deal_history_load(data: northwind.DemoData, crm_id: int) -> None:
    """The CRM's opportunity history, attached to the golden deals."""
    import io

    history = data.deal_history.copy()
    history["changed_at"] = history["changed_at"].dt.tz_localize("UTC")
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS _history")
        cursor.execute(
            "CREATE TEMP TABLE _history (external_id text, from_stage text, to_stage text, "
            "changed_at timestamptz, amount numeric) ON COMMIT DROP"
        )
        buffer = io.StringIO()
        history.to_csv(buffer, header=False, index=False, date_format="%Y-%m-%d %H:%M:%S%z")
        with cursor.cursor.copy(
            "COPY _history FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL (from_stage))"
        ) as copy:
            copy.write(buffer.getvalue())
        cursor.execute(
            """
            INSERT INTO pipeline_dealstagechange (deal_id, from_stage, to_stage, changed_at, amount)
            SELECT sd.deal_id, h.from_stage, h.to_stage, h.changed_at, h.amount
            FROM _history h
            JOIN pipeline_sourcedeal sd ON sd.system_id = %s AND sd.external_id = h.external_id
            WHERE sd.deal_id IS NOT NULL
            ON CONFLICT (deal_id, to_stage, changed_at) DO NOTHING
            """,
            [crm_id],
        )


def _lead_history_load(crm_id: int) -> None:
    """Lead stage history as the CRM's field history would give it: one row per lifecycle
    stage reached, at its timestamp, each from the stage before it."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO pipeline_leadstagechange
                (lead_id, from_stage, to_stage, changed_at, system_id)
            SELECT id, COALESCE(lag(stage) OVER (PARTITION BY id ORDER BY at, ord), ''),
                   stage, at, %s
            FROM (
                SELECT l.id, v.stage, v.at, v.ord
                FROM pipeline_lead l
                CROSS JOIN LATERAL (VALUES
                    (1, 'new', l.created_at), (2, 'mql', l.mql_at), (3, 'sal', l.sal_at),
                    (4, 'sql', l.sql_at), (5, 'opportunity', l.converted_at),
                    (6, 'disqualified', l.disqualified_at)
                ) AS v(ord, stage, at)
                WHERE v.at IS NOT NULL
            ) steps
            ON CONFLICT (lead_id, to_stage, changed_at) DO NOTHING
            """,
            [crm_id],
        )
