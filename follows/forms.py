from __future__ import annotations

from django import forms


class NotificationSettingsForm(forms.Form):
    email = forms.BooleanField(required=False, label="E-mail me")
    slack_webhook = forms.CharField(
        required=False,
        max_length=500,
        label="Slack incoming webhook",
        help_text="Create one in Slack (Apps → Incoming WebHooks) for yourself or a channel, "
        "and paste its address here. It is stored encrypted and never shown again.",
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}
        ),
    )
    slack_remove = forms.BooleanField(required=False, label="Remove the Slack webhook")
