"""Forms of the dispute pages. They only shape input; the services decide."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from disputes.choices import CorrectionKind
from pipeline.choices import AUTHORITY_FIELDS, ObjectType
from pipeline.models import OVERRIDABLE_TYPES, SourceSystem
from pipeline.presets import field_info
from revops.permissions import Role


def add_errors(form: forms.Form, exc: ValidationError) -> None:
    """A service's ValidationError on the form: on the field it names when the form has it,
    above the form otherwise."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def ops_users():
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name=Role.OPS.value)
        .order_by("username")
    )


class DisputeForm(forms.Form):
    claimed_value = forms.CharField(
        label="The value you believe is right", max_length=100, strip=True
    )
    explanation = forms.CharField(
        label="Why",
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=10_000,
        help_text="Markdown: **bold**, *italic*, lists, links.",
    )
    attachment = forms.FileField(
        label="Records you think are missing or wrong (CSV, up to 5 MB)",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Comment",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=10_000,
        help_text="Markdown: **bold**, *italic*, lists, links.",
    )


class ReviewForm(forms.Form):
    assignee = forms.ModelChoiceField(queryset=ops_users(), required=False, label="Assign to")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = ops_users()


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(queryset=ops_users(), label="Assign to")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = ops_users()


def _object_types():
    return [("", "—")] + [(t, ObjectType(t).label) for t in OVERRIDABLE_TYPES]


def _correctable_fields():
    """The fields a rule or an override may correct, by object type and by their labels; a
    value is `<object type>.<field>`, so the object type comes with the field."""
    return [("", "—")] + [
        (
            ObjectType(t).label,
            [(f"{t}.{name}", field_info(t, name).label) for name in AUTHORITY_FIELDS[t]],
        )
        for t in OVERRIDABLE_TYPES
    ]


class AcceptForm(forms.Form):
    resolution = forms.CharField(
        label="What was corrected", widget=forms.Textarea(attrs={"rows": 3})
    )
    kind = forms.ChoiceField(
        label="Correction", choices=CorrectionKind.choices, initial=CorrectionKind.NONE
    )
    object_type = forms.ChoiceField(label="Object", choices=_object_types, required=False)
    field = forms.ChoiceField(label="Field", choices=_correctable_fields, required=False)
    system = forms.ChoiceField(label="System that wins", required=False)
    record_key = forms.CharField(
        label="Record key", required=False, help_text="Blank: the disputed record"
    )
    value = forms.CharField(label="Correct value", required=False)
    alias_email = forms.CharField(label="This lead's email…", required=False)
    canonical_email = forms.CharField(
        label="…is the same person as", required=False, help_text="Blank: the disputed lead"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["system"].choices = [("", "—")] + list(
            SourceSystem.objects.order_by("name").values_list("slug", "name")
        )

    def clean(self):
        data = super().clean()
        chosen = data.get("field") or ""
        if chosen:
            object_type, _, name = chosen.partition(".")
            if data.get("object_type") and data["object_type"] != object_type:
                self.add_error(
                    "field",
                    f"{field_info(object_type, name).label} is a field of "
                    f"{ObjectType(object_type).label.lower()}s, not of "
                    f"{ObjectType(data['object_type']).label.lower()}s.",
                )
            else:
                data["object_type"] = object_type
                data["field"] = name
        return data


class RejectForm(forms.Form):
    reason = forms.CharField(label="Why not", widget=forms.Textarea(attrs={"rows": 3}))


class WithdrawForm(forms.Form):
    note = forms.CharField(label="Note (optional)", required=False)


class SettingsForm(forms.Form):
    response_business_days = forms.IntegerField(
        label="Ops respond within (business days)", min_value=1, max_value=30
    )
