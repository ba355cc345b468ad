"""Forms of the pipeline pages. They check what the user typed; the services do the work."""

from __future__ import annotations

import zoneinfo

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from pipeline.choices import (
    AUTHORITY_FIELDS,
    ApplyMode,
    ConnectorAuth,
    ExportKind,
    ObjectType,
    SystemRole,
    Vendor,
)
from pipeline.models import ImportPreset, SourceSystem
from pipeline.models.systems import RECORD_URL_EXAMPLE
from pipeline.presets import (
    BUILTIN_PRESETS,
    CHOICE,
    FIELDS,
    SYSTEM_FIELDS,
    builtin_preset,
    mapping_from_dict,
)
from pipeline.services.currency import (
    RATES_FILE_MAX_BYTES,
    rate_currency_check,
    rate_date_check,
    rate_value_check,
)
from pipeline.services.owners import OWNERS_FILE_MAX_BYTES
from pipeline.services.picklists import BLANK
from pipeline.services.presets import import_preset_name_check
from pipeline.services.reconciliation import DEFAULT_WEEKS, MAX_WEEKS

NEW_MAPPING = "__new__"


def preset_choices(vendor: str = "") -> list[tuple[str, list[tuple[str, str]]]]:
    """Presets grouped for a <select>: built-in ones by vendor (only `vendor`'s when given and
    not "other"), saved ones by name."""
    groups = []
    for key, label in Vendor.choices:
        if vendor not in ("", Vendor.OTHER) and key != vendor:
            continue
        builtin = [
            (k, spec["label"]) for k, spec in BUILTIN_PRESETS.items() if preset_vendor(k) == key
        ]
        if builtin:
            groups.append((label, builtin))
    saved = [
        (p.name, f"{p.name} ({p.get_object_type_display()})")
        for p in ImportPreset.objects.order_by("name")
    ]
    if saved:
        groups.append(("Saved", saved))
    groups.append(("Other", [(NEW_MAPPING, "Build a mapping from this file's header…")]))
    return groups


def preset_vendor(preset: str) -> str:
    """The vendor whose exports a built-in preset reads ("" for a saved preset or none)."""
    vendor = preset.split("-", 1)[0] if preset in BUILTIN_PRESETS else ""
    return vendor if vendor in Vendor.values else ""


class SourceSystemForm(forms.Form):
    name = forms.CharField(max_length=100)
    vendor = forms.ChoiceField(choices=Vendor.choices, initial=Vendor.OTHER)
    role = forms.ChoiceField(choices=SystemRole.choices)
    match_by_phone = forms.BooleanField(
        required=False,
        label="Match by phone",
        help_text="Leads without an email are matched to others by phone number.",
    )
    record_url_template = forms.CharField(
        required=False,
        max_length=500,
        label="Record URL",
        help_text=f"Where a record opens in this system, {{id}} standing for its id, e.g. "
        f"{RECORD_URL_EXAMPLE}. Record pages link each system's version there.",
    )


class PlaceholderEmailForm(forms.Form):
    pattern = forms.CharField(
        max_length=254,
        label="Placeholder email",
        help_text="An address (a@a.com) or a prefix ending in @ (noemail@).",
    )


class ImportUploadForm(forms.Form):
    system = forms.ModelChoiceField(
        queryset=SourceSystem.objects.filter(retired_at__isnull=True), empty_label=None
    )
    object_type = forms.ChoiceField(label="Object", choices=ObjectType.choices)
    preset = forms.ChoiceField(label="Columns", choices=())
    export_kind = forms.ChoiceField(
        label="The file holds",
        choices=[
            (ExportKind.DELTA, "Changes only (delta)"),
            (ExportKind.FULL, "Every record of the system (full export)"),
        ],
        initial=ExportKind.DELTA,
        required=False,
        help_text="After a full export, the system's records it does not hold are marked "
        "deleted (kept for history, left out of the metrics).",
    )
    file = forms.FileField(help_text="A CSV export: comma, semicolon or tab separated.")
    apply_mode = forms.ChoiceField(
        label="If some rows have problems",
        choices=ApplyMode.choices,
        initial=ApplyMode.WHOLE,
        required=False,  # a client that does not send it gets the default
        widget=forms.RadioSelect,
        help_text="Whole file: nothing is written until every row is right. Valid rows: the "
        "rows with problems are held, listed and downloadable to fix and import again.",
    )

    def __init__(self, *args, vendor: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Every preset stays valid on submit (the system is checked against it in clean());
        # the page shows only the chosen system's vendor's.
        self.fields["preset"].choices = preset_choices()
        self.fields["preset"].widget.choices = preset_choices(vendor)
        self.fields["system"].widget.attrs["data-presets-for-system"] = ""
        limit = settings.IMPORT_MAX_BYTES
        self.fields["file"].help_text += f" Up to {limit // 1_000_000:,} MB."

    def clean_apply_mode(self) -> str:
        return self.cleaned_data.get("apply_mode") or ApplyMode.WHOLE

    def clean_export_kind(self) -> str:
        return self.cleaned_data["export_kind"] or ExportKind.DELTA

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.IMPORT_MAX_BYTES:
            raise ValidationError(
                f"The file is {upload.size / 1e6:.1f} MB; the limit is "
                f"{settings.IMPORT_MAX_BYTES / 1e6:.0f} MB."
            )
        if upload.size == 0:
            raise ValidationError("The file is empty.")
        return upload

    def clean(self):
        data = super().clean()
        preset, object_type = data.get("preset"), data.get("object_type")
        if not preset or not object_type or preset == NEW_MAPPING:
            return data
        if preset in BUILTIN_PRESETS:
            reads = BUILTIN_PRESETS[preset]["mapping"]["object"]
        else:
            reads = (
                ImportPreset.objects.filter(name=preset)
                .values_list("object_type", flat=True)
                .first()
            )
        if reads != object_type:
            self.add_error("preset", f"This preset reads {reads}s; you chose {object_type}s.")
        system, vendor = data.get("system"), preset_vendor(preset)
        if system and vendor and system.vendor not in (vendor, Vendor.OTHER, ""):
            self.add_error(
                "preset",
                f"This preset reads {Vendor(vendor).label} exports, and {system.name} is a "
                f"{system.get_vendor_display()} system: choose one of its presets, or build a "
                "mapping from the file's header.",
            )
        return data


class MappingForm(forms.Form):
    """Map each field of an object type to a column of the file's header, and save the
    result as a named preset."""

    name = forms.CharField(max_length=100, help_text="Saved under this name for next time.")
    date_order = forms.ChoiceField(
        choices=[
            ("iso", "ISO (2025-03-31) only"),
            ("us", "US: 03/31/2025, month first"),
            ("eu", "EU: 31/03/2025, day first"),
            ("auto", "Either, where day and month cannot be confused"),
        ],
        initial="iso",
    )
    decimal_separator = forms.ChoiceField(
        choices=[(".", "Point: 1,234.56"), (",", "Comma: 1.234,56")], initial="."
    )
    timezone = forms.CharField(
        initial="UTC", help_text="Time zone of dates written without one, e.g. Europe/Berlin."
    )

    base = forms.ChoiceField(
        label="Start from",
        required=False,
        help_text="A built-in preset to extend: the preset saves only what you change.",
    )

    def __init__(
        self, *args, object_type: str, header: list[str], base: str = "", **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.object_type = object_type
        self.mapping_data: dict = {}
        bases = [
            k for k, spec in BUILTIN_PRESETS.items() if spec["mapping"]["object"] == object_type
        ]
        self.fields["base"].choices = [("", "— nothing: map every field —")] + [
            (k, BUILTIN_PRESETS[k]["label"]) for k in bases
        ]
        self.base_mapping = builtin_preset(base) if base in bases else None
        if self.base_mapping is not None:
            self.fields["base"].initial = base
            for key in ("date_order", "decimal_separator", "timezone"):
                self.fields[key].initial = getattr(self.base_mapping, key)
        columns = [("", "— not in this file —"), *[(c, c) for c in header]]
        by_name = {c.casefold(): c for c in header}
        self.field_rows = []
        for info in FIELDS[object_type]:
            guess = by_name.get(info.name.casefold()) or by_name.get(info.label.casefold(), "")
            based = self.base_mapping and self.base_mapping.fields.get(info.name)
            if based and based.column:
                guess = by_name.get(based.column.casefold(), guess)
            self.fields[f"col_{info.name}"] = forms.ChoiceField(
                label=info.label, choices=columns, required=False, initial=guess
            )
            row = {"info": info, "column": self[f"col_{info.name}"]}
            if info.kind == CHOICE:
                self.fields[f"values_{info.name}"] = forms.CharField(
                    label=f"{info.label}: values",
                    required=False,
                    widget=forms.Textarea(attrs={"rows": 3}),
                    help_text=f"One per line, file value = ours ({', '.join(info.choices)}).",
                )
                row["values"] = self[f"values_{info.name}"]
            if info.name in SYSTEM_FIELDS:
                # Ids of another system: closed deals naming the marketing system's lead ids.
                self.fields[f"system_{info.name}"] = forms.ChoiceField(
                    label=f"{info.label}: ids of",
                    required=False,
                    choices=[
                        ("", "this system"),
                        *SourceSystem.objects.values_list("slug", "name"),
                    ],
                )
                row["system"] = self[f"system_{info.name}"]
            self.field_rows.append(row)

    def clean_name(self) -> str:
        # The service checks again on saving; here its problem shows with the mapping's.
        return import_preset_name_check(self.cleaned_data["name"])

    def clean_timezone(self) -> str:
        tz = self.cleaned_data["timezone"].strip()
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                f"{tz!r} is not a time zone, e.g. UTC or Europe/Berlin."
            ) from None
        return tz

    def clean(self):
        data = super().clean()
        fields: dict = {}
        for info in FIELDS[self.object_type]:
            column = data.get(f"col_{info.name}")
            if not column:
                continue
            spec: dict = {"column": column}
            values_text = data.get(f"values_{info.name}", "")
            if values_text:
                values = {}
                for number, line in enumerate(values_text.splitlines(), start=1):
                    if not line.strip():
                        continue
                    left, sep, right = line.partition("=")
                    if not sep or not left.strip() or not right.strip():
                        self.add_error(
                            f"values_{info.name}",
                            f"Line {number}: write it as 'file value = {info.choices[0]}'.",
                        )
                        continue
                    values[left.strip()] = right.strip()
                spec["values"] = values
            if data.get(f"system_{info.name}"):
                spec["system"] = data[f"system_{info.name}"]
            fields[info.name] = spec
        raw = {
            "object": self.object_type,
            "fields": fields,
            "date_order": data.get("date_order", "iso"),
            "decimal_separator": data.get("decimal_separator", "."),
            "timezone": data.get("timezone", "UTC"),
        }
        if not fields:
            raise ValidationError("Map at least the required fields to columns of the file.")
        base = data.get("base") or ""
        if base and self.base_mapping is not None and base == self.fields["base"].initial:
            raw = self._extension(base, raw)
        if not self.errors:
            try:
                self.mapping = mapping_from_dict(raw, object_type=self.object_type)
            except ValidationError as exc:
                raise ValidationError(exc.messages) from None
            self.mapping_data = raw
        return data

    def _extension(self, base: str, whole: dict) -> dict:
        """What differs from the base preset: fields read from another column or given
        values, fields the base reads that were left out (its optional ones stay), and the
        date order, separator and time zone where they differ."""
        assert self.base_mapping is not None
        out: dict = {"extends": base, "object": self.object_type}
        for key in ("date_order", "decimal_separator", "timezone"):
            if whole[key] != getattr(self.base_mapping, key):
                out[key] = whole[key]
        fields: dict = {}
        for name, spec in whole["fields"].items():
            based = self.base_mapping.fields.get(name)
            same_column = based is not None and (based.column or "").casefold() == (
                spec["column"].casefold()
            )
            if not same_column:
                fields[name] = {
                    "column": spec["column"],
                    **({"values": spec["values"]} if spec.get("values") else {}),
                }
            elif spec.get("values"):
                fields[name] = {"values": spec["values"]}
        for name, based in self.base_mapping.fields.items():
            if name not in whole["fields"] and not based.optional:
                fields[name] = None
        out["fields"] = fields
        return out


class AuthorityForm(forms.Form):
    """For each field of one object type, the system whose value the golden record shows."""

    def __init__(self, *args, object_type: str, current: dict[str, int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.object_type = object_type
        systems = [("", "No rule (CRM first, then marketing, then customer success)")] + [
            (str(s.id), s.name) for s in SourceSystem.objects.all()
        ]
        for name in AUTHORITY_FIELDS[object_type]:
            self.fields[name] = forms.ChoiceField(
                label=name.replace("_", " "),
                choices=systems,
                required=False,
                initial=str(current.get(name, "")),
            )

    def rules(self) -> dict[str, SourceSystem | None]:
        systems = SourceSystem.objects.in_bulk([int(v) for v in self.cleaned_data.values() if v])
        return {name: systems[int(v)] if v else None for name, v in self.cleaned_data.items()}


WEEKDAYS = [
    (1, "Mon"),
    (2, "Tue"),
    (3, "Wed"),
    (4, "Thu"),
    (5, "Fri"),
    (6, "Sat"),
    (7, "Sun"),
]


class RunStartForm(forms.Form):
    weeks = forms.IntegerField(
        min_value=1,
        max_value=MAX_WEEKS,
        initial=DEFAULT_WEEKS,
        label="Weeks of metric bridges",
        help_text="ISO weeks up to the current one.",
    )


class ScheduleForm(forms.Form):
    enabled = forms.BooleanField(required=False, label="Run on schedule")
    at = forms.TimeField(
        label="Time of day",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        input_formats=["%H:%M", "%H:%M:%S"],
    )
    days = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        label="Days",
        error_messages={"required": "Choose at least one day of the week."},
    )
    weeks = forms.IntegerField(min_value=1, max_value=MAX_WEEKS, label="Weeks of metric bridges")


class ExchangeRateForm(forms.Form):
    """One rate: the service's own checks, so the page says exactly what the service would.
    Fields are text so that whatever was typed comes back on an error."""

    currency = forms.CharField(
        max_length=40, help_text="ISO 4217 code, e.g. EUR.", widget=forms.TextInput({"size": 5})
    )
    valid_from = forms.CharField(
        label="Valid from", max_length=40, widget=forms.DateInput(attrs={"type": "date"})
    )
    rate = forms.CharField(
        max_length=60,
        help_text="Company-currency units one unit is worth.",
        widget=forms.TextInput({"inputmode": "decimal", "size": 14}),
    )

    def clean_currency(self):
        return rate_currency_check(self.cleaned_data["currency"])

    def clean_valid_from(self):
        return rate_date_check(self.cleaned_data["valid_from"])

    def clean_rate(self):
        return rate_value_check(self.cleaned_data["rate"])


class ExchangeRatesUploadForm(forms.Form):
    file = forms.FileField(
        help_text="CSV with the header currency,date,rate (UTF-8); dates like 2026-03-31."
    )

    def clean_export_kind(self) -> str:
        return self.cleaned_data["export_kind"] or ExportKind.DELTA

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > RATES_FILE_MAX_BYTES:
            raise ValidationError(f"The file is over {RATES_FILE_MAX_BYTES // 1_000_000} MB.")
        return upload


class OwnersUploadForm(forms.Form):
    file = forms.FileField(
        help_text="CSV (UTF-8, comma or semicolon) with a column naming the owner as the records "
        "do (owner, owner_id, user, agent, sales_agent or key) and any of name, team, manager "
        "and office."
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > OWNERS_FILE_MAX_BYTES:
            raise ValidationError(f"The file is over {OWNERS_FILE_MAX_BYTES // 1_000_000} MB.")
        return upload


class RegionForm(forms.Form):
    name = forms.CharField(max_length=100)
    countries = forms.CharField(
        required=False,
        strip=False,  # a trailing line break says "one country a line"
        max_length=50_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="One country per line, as the records write them (case and spaces do not "
        "matter), or on a single line separated by commas.",
    )

    def clean_countries(self) -> list[str]:
        text = self.cleaned_data["countries"]
        # Text without a line break may list several by commas; with one, a comma is part of
        # a name ("Korea, Republic of"), and the edit form ends each country with a break.
        return text.splitlines() if "\n" in text or "\r" in text else text.split(",")


class ValueMapForm(forms.Form):
    """For each value a checked file holds in a choice field, the value of ours it means. The
    values come from the batch (`batch_values`), never from the request: a field is named by
    its position in the batch's list. Values already mapped start on their mapping."""

    name = forms.CharField(
        max_length=100,
        required=False,
        help_text="A new preset that extends the one this file was read with.",
    )

    def __init__(self, *args, fields: list[dict], needs_name: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.needs_name = needs_name
        self.field_rows = []
        for f in fields:
            options = [("", "— not mapped —" if f["unknown"] else "— as it is —")]
            if f["blank_allowed"]:
                options.append((BLANK, "(blank)"))
            options += [(c, c) for c in f["choices"]]
            rows = []
            for i, v in enumerate(f["values"]):
                key = f"{f['field']}_{i}"
                initial = "" if v["ours"] is None else (v["ours"] or BLANK)
                self.fields[key] = forms.ChoiceField(
                    label=v["value"], choices=options, required=False, initial=initial
                )
                rows.append({"value": v, "select": self[key], "key": key})
            self.field_rows.append({**f, "rows": rows})

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        return import_preset_name_check(name) if self.needs_name else name

    def values(self) -> dict[str, dict[str, str]]:
        """{field: {file value: ours}} for the values whose choice differs from today's."""
        out: dict[str, dict[str, str]] = {}
        for f in self.field_rows:
            for row in f["rows"]:
                chosen = self.cleaned_data.get(row["key"], "")
                if not chosen:
                    continue
                ours = "" if chosen == BLANK else chosen
                if ours != row["value"]["ours"]:
                    out.setdefault(f["field"], {})[row["value"]["value"]] = ours
        return out


class ConnectionForm(forms.Form):
    """A system's API connection. Secrets are never rendered back: blank keeps the stored one."""

    auth = forms.ChoiceField(label="Sign in with", choices=ConnectorAuth.choices)
    url = forms.CharField(
        label="API or login URL",
        max_length=300,
        required=False,
        help_text="HubSpot: https://api.hubapi.com. Salesforce: https://login.salesforce.com, "
        "https://test.salesforce.com for a sandbox, or your My Domain address.",
    )
    token = forms.CharField(
        label="Access token",
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="The private app's token (HubSpot → Settings → Integrations → Private apps).",
    )
    username = forms.CharField(label="Salesforce username", required=False, max_length=200)
    consumer_key = forms.CharField(label="Consumer key", required=False, max_length=300)
    private_key = forms.CharField(
        label="Private key (PEM)",
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"}),
        help_text="The key whose certificate you uploaded to the connected app.",
    )
    password = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    security_token = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    objects_synced = forms.MultipleChoiceField(
        label="Records to sync",
        choices=[("account", "Accounts"), ("lead", "Leads"), ("deal", "Deals")],
        widget=forms.CheckboxSelectMultiple,
    )
    nightly = forms.BooleanField(label="Sync every night", required=False)
    fresh_hours = forms.IntegerField(
        label="Warn when older than (hours)",
        min_value=1,
        max_value=336,
        help_text="The scorecard warns when this system's last good sync is older.",
    )

    def __init__(self, *args, vendor: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        allowed = {
            "hubspot": [ConnectorAuth.HUBSPOT_TOKEN],
            "salesforce": [ConnectorAuth.SALESFORCE_JWT, ConnectorAuth.SALESFORCE_PASSWORD],
        }.get(vendor, [])
        self.fields["auth"].choices = [(a.value, a.label) for a in allowed]
        if vendor == "hubspot":
            self.fields["url"].label = "API URL"
            self.fields["url"].help_text = "https://api.hubapi.com for every HubSpot account."
        elif vendor == "salesforce":
            self.fields["url"].label = "Login URL"
            self.fields["url"].help_text = (
                "https://login.salesforce.com; https://test.salesforce.com for a sandbox; or "
                "the org's My Domain address (https://acme.my.salesforce.com)."
            )
            self.fields["private_key"].label = "Private key (PEM), for the connected app"
            self.fields["password"].label = "Password, for username-and-password sign-in"
            self.fields["security_token"].label = "Security token, with the password"
            self.fields["consumer_key"].label = "Consumer key, for the connected app"
