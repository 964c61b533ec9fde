from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

__version__ = "0.1.0"


class PluginApp(AppConfig):
    name = "pretix_headcount"
    verbose_name = "headcount"
    default = True

    class PretixPluginMeta:
        name = _("headcount: real people, not fake crowds")
        author = "headcount"
        version = __version__
        category = "FEATURE"
        visible = True
        description = _(
            "Asks a headcount service before products go into a cart and before an order is placed: "
            "per-person limits across orders (aliases of one mailbox are one person), throwaway "
            "addresses refused, short reservations for doubtful buyers; check-ins feed the "
            "real-headcount estimate shown on the event dashboard. Free events can be allocated by "
            "a verifiable draw instead of first come, first served."
        )
        settings_links = [
            ((_("Settings"), _("headcount")), "plugins:pretix_headcount:settings", {}),
        ]

    def ready(self) -> None:
        from datetime import datetime

        from pretix.base.settings import settings_hierarkey

        from . import signals  # noqa: F401

        # typed settings (the lottery's draw date and numbers), so forms and reads get their types
        settings_hierarkey.add_default("headcount_lottery_closes_at", None, datetime)
        settings_hierarkey.add_default("headcount_lottery_seats", None, int)
        settings_hierarkey.add_default("headcount_lottery_confirm_hours", None, int)
