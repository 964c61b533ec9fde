"""`headcount report`: a self-contained HTML report of a pool and its cleaned contact list.

    from headcount.report import gather, render_html
    html = render_html(gather(store, "rally-tulsa"))  # groups: those the service stored, or blocks=[...]
"""

from .build import ReportData, gather, render_html
from .contacts import CleanedContact, cleaned_contacts, judged_real

__all__ = ["CleanedContact", "ReportData", "cleaned_contacts", "gather", "judged_real", "render_html"]
