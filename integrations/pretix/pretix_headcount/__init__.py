"""pretix-headcount: a pretix plugin that asks a headcount service before carts and orders."""

from pretix_headcount.apps import PluginApp, __version__

PretixPluginMeta = PluginApp.PretixPluginMeta

__all__ = ["PluginApp", "PretixPluginMeta", "__version__"]
