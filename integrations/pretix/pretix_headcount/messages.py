"""headcount's reasons turned into sentences a customer can act on (never raw codes)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

#: reason code -> what the customer reads; the first matching reason wins, in this order
REASON_TEXT = [
    ("email_disposable", _("Please use a permanent e-mail address: throwaway addresses cannot be used "
                           "to book tickets for this event.")),
    ("email_invalid", _("Your e-mail address does not look valid. Please check it and try again.")),
    ("email_machine_made", _("Please use your personal e-mail address to book tickets for this event.")),
    ("phone_", _("Please use your own mobile phone number to book tickets for this event.")),
    ("ua_automation", _("Automated browsers cannot book tickets for this event. Please use a normal "
                        "web browser.")),
    ("velocity_network", _("Very many bookings came from your network in a short time. Please try "
                           "again in a few minutes.")),
    ("velocity_phone_block", _("Very many bookings came from similar phone numbers in a short time. "
                               "Please try again later.")),
    ("coordinated_group", _("Your booking looks like part of a coordinated bulk booking. If this is a "
                            "mistake, please contact the organiser.")),
    ("ip_", _("We could not verify your connection. Please try again from another network.")),
]

DENIED = _("We cannot reserve tickets for you right now. If you think this is a mistake, please "
           "contact the organiser.")
LIMIT = _("You have reached the limit of tickets per person for this event (counted across all "
          "your orders).")
SOLD_OUT = _("Sorry, these tickets have just been reserved by others. Please try again later.")
CHALLENGE = _("This event is seeing unusual demand and needs to verify that you are a person before "
              "reserving tickets. Please try again in a few minutes or contact the organiser.")
UNAVAILABLE = _("The ticket shop cannot check your booking right now. Please try again in a minute.")


def friendly(status: int, reasons: list[str]) -> str:
    """The message for a refused add or order: status 403, 409, 428 or 429 and headcount's reasons."""
    if status == 429:
        return str(LIMIT)
    if status == 409:
        return str(SOLD_OUT)
    if status == 428:
        return str(CHALLENGE)
    for code, text in REASON_TEXT:
        if any(r == code or (code.endswith("_") and r.startswith(code)) for r in reasons):
            return str(text)
    return str(DENIED)
