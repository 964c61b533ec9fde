from django.urls import re_path

from pretix_headcount.views import HeadcountSettings

urlpatterns = [
    re_path(r"^control/event/(?P<organizer>[^/]+)/(?P<event>[^/]+)/headcount/settings$",
            HeadcountSettings.as_view(), name="settings"),
]
