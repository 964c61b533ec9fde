"""The per-event settings page in pretix's control panel."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from pretix.base.forms import SecretKeySettingsField, SettingsForm
from pretix.base.models import Event
from pretix.control.forms import SplitDateTimeField, SplitDateTimePickerWidget
from pretix.control.views.event import EventSettingsFormView, EventSettingsViewMixin

from pretix_headcount.core import parse_pool_map


class HeadcountSettingsForm(SettingsForm):
    headcount_url = forms.URLField(
        label=_("headcount service URL"), required=False,
        help_text=_("For example https://headcount.example.org. Leave empty to switch the checks off."))
    headcount_api_key = SecretKeySettingsField(
        label=_("API key"), required=False,
        help_text=_("A headcount key with the staff role (it creates this event's pools on first use): "
                    "`headcount keys create --role staff`."))
    headcount_pools = forms.CharField(
        label=_("Quota to pool"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One QUOTA_ID=POOL_ID a line. Quotas not listed get their own pool, "
                    "pretix-ORGANIZER-EVENT-qQUOTA_ID, created on demand."))
    headcount_per_person = forms.IntegerField(
        label=_("Tickets per person"), required=False, min_value=1, max_value=1000,
        help_text=_("The per-person limit of pools the plugin creates (across all orders of one person)."))
    headcount_fail_mode = forms.ChoiceField(
        label=_("When headcount cannot be reached"), required=False,
        choices=[("open", _("Sell anyway (fail open) and write a warning to the event log")),
                 ("closed", _("Refuse additions and orders until it answers (fail closed)"))])
    headcount_lottery_closes_at = SplitDateTimeField(
        label=_("Draw date"), required=False, widget=SplitDateTimePickerWidget(),
        help_text=_("Set it to allocate this free event by lottery: orders placed until then are "
                    "registrations for headcount's draw (products must require approval); winners' "
                    "orders are approved, the rest wait in line. Leave empty for first come, first served."))
    headcount_lottery_seats = forms.IntegerField(
        label=_("Seats drawn"), required=False, min_value=1, max_value=10_000_000,
        help_text=_("How many seats the draw gives. pretix's quota counts pending orders, so it sets how "
                    "many may register; the quota's size when empty."))
    headcount_lottery_confirm_hours = forms.IntegerField(
        label=_("Hours a winner has"), required=False, min_value=1, max_value=720,
        help_text=_("How long a win is kept for its order (48 when empty)."))
    headcount_dashboard_url = forms.URLField(
        label=_("Dashboard link"), required=False,
        help_text=_("Where the dashboard widget links to; the service URL by default."))

    def clean_headcount_pools(self) -> str:
        value = self.cleaned_data.get("headcount_pools") or ""
        try:
            parse_pool_map(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        return value


class HeadcountSettings(EventSettingsViewMixin, EventSettingsFormView):
    model = Event
    form_class = HeadcountSettingsForm
    template_name = "pretix_headcount/settings.html"
    permission = "event.settings.general:write"

    def get_success_url(self) -> str:
        return reverse("plugins:pretix_headcount:settings", kwargs={
            "organizer": self.request.event.organizer.slug, "event": self.request.event.slug})
