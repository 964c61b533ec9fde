from django.db import models


class HeadcountHold(models.Model):
    """One headcount hold (or one refusal) made for a pretix cart or order.

    `kind` is "cart" (placed when products were added, identity as pretix knew it then),
    "order" (placed at checkout with the buyer's e-mail; confirmed when the order is
    placed) or "lottery" (a registration for a lottery pool's draw, made at checkout). A
    refusal is a row with `status="refused"` and no hold id: the dashboard widget counts them.
    """

    KIND_CART = "cart"
    KIND_ORDER = "order"
    #: a lottery event's order: a registration for the draw (`registration_id`); `hold_id` is
    #: the win's hold once drawn. status: registered, waitlisted, confirmed, refused, released
    KIND_LOTTERY = "lottery"

    event = models.ForeignKey("pretixbase.Event", on_delete=models.CASCADE, related_name="headcount_holds")
    kind = models.CharField(max_length=8)
    cart_id = models.CharField(max_length=255, null=True, db_index=True)
    order = models.ForeignKey("pretixbase.Order", null=True, on_delete=models.CASCADE,
                              related_name="headcount_holds")
    pool_id = models.CharField(max_length=64)
    hold_id = models.CharField(max_length=64, blank=True, db_index=True)
    registration_id = models.CharField(max_length=64, blank=True, db_index=True)
    quantity = models.PositiveIntegerField(default=1)
    #: held, confirmed, released, refused
    status = models.CharField(max_length=12, db_index=True)
    #: normal, short (short-hold band), deny, limit, sold_out, challenge, unreachable
    band = models.CharField(max_length=12, default="normal")
    score = models.FloatField(null=True)
    reasons = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True)
    #: what the visitor's request showed at cart time, reused for the checkout hold
    ip = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=1000, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["event", "status", "kind"])]
