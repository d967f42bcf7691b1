"""The words Pinbridge stores, answers and sends, each defined once.

Every enum is a `StrEnum`: a member is the very string kept in the database, returned by the JSON API and
sent to Pinterest, so a value never changes by being named here. Columns holding one are typed with it
(app/models.py). Pure: no Flask, no database, so the mapping uses them too.
"""

from __future__ import annotations

import enum


class Topic(enum.StrEnum):
    """The Shopify webhook topics Pinbridge subscribes to."""

    ORDERS_CREATE = "orders/create"
    CHECKOUTS_CREATE = "checkouts/create"
    CHECKOUTS_UPDATE = "checkouts/update"
    APP_UNINSTALLED = "app/uninstalled"
    CUSTOMERS_DATA_REQUEST = "customers/data_request"
    CUSTOMERS_REDACT = "customers/redact"
    SHOP_REDACT = "shop/redact"


ORDER_TOPICS = frozenset({Topic.ORDERS_CREATE})
CHECKOUT_TOPICS = frozenset({Topic.CHECKOUTS_CREATE, Topic.CHECKOUTS_UPDATE})
PURCHASE_TOPICS = ORDER_TOPICS | CHECKOUT_TOPICS  # acknowledged into the inbox, routed by the worker


class EventStatus(enum.StrEnum):
    PENDING = "pending"        # waiting to be sent (maybe not before available_at)
    SENDING = "sending"        # claimed by a worker under a lease
    DELIVERED = "delivered"    # Pinterest answered `processed`
    FAILED = "failed"          # Pinterest refused it, or it expired; see error_code / error_message
    SKIPPED = "skipped"        # never sent: no usable identifier, offline order, not configured...


class EventSource(enum.StrEnum):
    ORDER = "order"            # an orders/create webhook
    CHECKOUT = "checkout"      # a completed checkout, waiting for its order
    RECONCILE = "reconcile"    # an order the webhooks missed, found by reconciliation
    VERIFY = "verify"          # the test event of "check connection": never resent, never counted


# The events that are a shop's purchases: counted on the page and in daily_stats (a test event is not).
PURCHASE_SOURCES = (EventSource.ORDER, EventSource.CHECKOUT, EventSource.RECONCILE)


class ActionSource(enum.StrEnum):
    """Pinterest's `action_source` of a purchase event (SPEC: web or offline)."""

    WEB = "web"                # bought online by a shopper
    OFFLINE = "offline"        # bought at a till, or entered by staff


class OrderClass(enum.StrEnum):
    """Which kind of sale an order is, from Shopify's `source_name` (app/mapping/order_class.py)."""

    WEB = "web"
    POS = "pos"
    DRAFT = "draft"
    SUBSCRIPTION = "subscription"
    OTHER_CHANNELS = "other_channels"


class SendChoice(enum.StrEnum):
    """How the merchant wants an order class sent (the `send_*` settings)."""

    WEB = "web"                # as an online conversion
    OFFLINE = "offline"        # as an offline conversion
    SKIP = "skip"              # not at all


class EventIdSource(enum.StrEnum):
    """Where a purchase's event_id comes from first (the storefront Tag uses the same)."""

    CART_TOKEN = "cart_token"
    CHECKOUT_TOKEN = "checkout_token"
    ORDER_ID = "order_id"              # "order-<order id>"


class ContentIdSource(enum.StrEnum):
    """Which catalog id a line item is sent with first."""

    PRODUCT_ID = "product_id"
    VARIANT_ID = "variant_id"
    SKU = "sku"


class ValueMode(enum.StrEnum):
    SUBTOTAL = "subtotal"              # after discounts, before tax and shipping
    TOTAL = "total"                    # what the buyer paid


class CurrencyMode(enum.StrEnum):
    SHOP = "shop"                      # the shop's currency
    PRESENTMENT = "presentment"        # the currency the buyer saw


class ConsentRule(enum.StrEnum):
    """What a buyer's refusal at the storefront means for the server event (`*_refused` settings)."""

    SKIP = "skip"              # not sent
    LIMITED = "limited"        # sent for limited data processing (opt_out_type LDP)
    SEND = "send"              # sent as usual


class ConnectionStatus(enum.StrEnum):
    UNKNOWN = "unknown"        # never talked to Pinterest with these credentials
    OK = "ok"                  # the last request with these credentials was accepted
    REJECTED = "rejected"      # 401/403: delivery paused until the merchant saves new credentials
    UNREADABLE = "unreadable"  # the stored token cannot be decrypted with ENCRYPTION_KEY: paused until re-saved


class FailureClass(enum.StrEnum):
    """Which kind of failure Pinterest's answer was (app/shop_state.py classifies it)."""

    TOKEN = "token"              # 401: the access token is not accepted
    AD_ACCOUNT = "ad_account"    # 403: the token may not send for this ad account
    RATE_LIMITED = "rate_limited"  # 429: Pinterest asks us to slow down
    PINTEREST = "pinterest"      # 5xx or an answer we could not read: Pinterest's side
    NETWORK = "network"          # no answer at all: timeout or connection failure
    REJECTED = "rejected"        # 400/422: the request itself was refused


class ErrorCode(enum.StrEnum):
    """Why an event is not delivered (`events.error_code`; a test event's is its `CheckOutcome` instead)."""

    FAILED = "failed"                              # Pinterest answered the batch but refused this event
    REJECTED = "rejected"                          # Pinterest refused the request itself (400/422), for good
    EXPIRED = "expired"                            # not delivered within EVENT_MAX_AGE_SECONDS of receipt
    # Waiting to be sent again:
    CREDENTIALS_REJECTED = "credentials_rejected"  # Pinterest refused the token or the ad account
    TOKEN_UNREADABLE = "token_unreadable"          # the saved token cannot be decrypted
    UNAVAILABLE = "unavailable"                    # Pinterest did not answer, or asked to slow down
    NOT_CONFIGURED = "not_configured"              # the shop's Pinterest settings are missing
    INTERNAL_ERROR = "internal_error"              # an error of Pinbridge's own


class ReceiptOutcome(enum.StrEnum):
    """What became of one webhook delivery: its receipt's `outcome`, and the answer of the door."""

    # The door's answer (HTTP body `status`); a receipt is first stored with one of the first three.
    ACCEPTED = "accepted"                    # verified and recorded
    DUPLICATE = "duplicate"                  # a webhook id seen before: nothing stored (never an outcome)
    IGNORED = "ignored"                      # a topic Pinbridge does not act on
    # An order or checkout, as the inbox and the outbox settled it.
    WAITING = "waiting"                      # its body waits in the inbox for the worker
    CHECKOUT_OPEN = "checkout_open"          # a checkout not completed: not a purchase, nothing to map
    UNREADABLE_BODY = "unreadable_body"      # sealed with a key no longer configured; reconciliation recovers it
    QUEUED = "queued"                        # a new event waits to be sent
    SKIPPED = "skipped"                      # a new event that will not be sent (see its skip reason)
    REPLACED_CHECKOUT = "replaced_checkout"  # the order took its checkout's still-waiting event
    ALREADY_RECEIVED = "already_received"    # the purchase already has an event
    ALREADY_SENT = "already_sent"            # its checkout's event was sent already
    # A lifecycle or privacy topic (app/ingest/lifecycle.py), or why it was not applied.
    SHOP_REDACTED = "shop_redacted"
    UNKNOWN_SHOP = "unknown_shop"
    UNINSTALLED = "uninstalled"
    CUSTOMER_REDACTED = "customer_redacted"
    DATA_REQUEST_RECORDED = "data_request_recorded"
    SHOP_INSTALLED = "shop_installed"        # a shop/redact for a shop that is installed: a replay, not applied
    SUPERSEDED = "superseded"                # an uninstall older than the shop's latest install


class CheckOutcome(enum.StrEnum):
    """What "check connection" found; also the test event's `error_code` when it was not delivered."""

    ACCEPTED = "accepted"                      # Pinterest processed the test event
    NOT_PROCESSED = "not_processed"            # the token works; the event itself was refused
    REJECTED_TOKEN = "rejected_token"
    REFUSED_AD_ACCOUNT = "refused_ad_account"
    TOKEN_UNREADABLE = "token_unreadable"      # the saved token cannot be decrypted
    REFUSED = "refused"
    UNAVAILABLE = "unavailable"
    NOT_CONFIGURED = "not_configured"
    INVALID_SAVED = "invalid_saved"            # saved before today's checks and not what Pinterest accepts


class SkipReason(enum.StrEnum):
    """Why a purchase is not sent: a code, compared as such, and (`sentence`) the words stored with its event.

    The sentence is what the merchant reads (events.skip_reason keeps it), so its wording is part of the
    page; code never looks at it.
    """

    NOT_AN_OBJECT = "not_an_object"
    CHECKOUT_OPEN = "checkout_open"
    CLASS_SKIPPED = "class_skipped"
    NO_EVENT_ID = "no_event_id"
    NO_ORDER_TIME = "no_order_time"
    NO_CHECKOUT_TIME = "no_checkout_time"
    NO_MATCH_KEY = "no_match_key"
    MAPPING_ERROR = "mapping_error"
    CONSENT_REFUSED = "consent_refused"
    TOO_OLD = "too_old"
    BACKDATED_SKIPPED = "backdated_skipped"

    def sentence(self, **details: str) -> str:
        """The merchant's words for this reason; CLASS_SKIPPED takes `label` and `setting`, MAPPING_ERROR `error`,
        TOO_OLD `day`."""
        return _SKIP_SENTENCES[self].format(**details)


_SKIP_SENTENCES = {
    SkipReason.NOT_AN_OBJECT: "the webhook body is not a JSON object",
    SkipReason.CHECKOUT_OPEN: "checkout not completed",
    SkipReason.CLASS_SKIPPED: "{label}: not sent ({setting} is 'skip'; choose 'web' or 'offline' to send these)",
    SkipReason.NO_EVENT_ID: "no cart token, checkout token or order id to build an event id from",
    SkipReason.NO_ORDER_TIME: "no valid processed_at or created_at time on the order",
    SkipReason.NO_CHECKOUT_TIME: "no valid completed_at time on the checkout",
    SkipReason.NO_MATCH_KEY: "no email or browser IP/user agent to match the buyer",
    SkipReason.MAPPING_ERROR: "could not be mapped because of an unexpected error ({error}); it was not sent",
    SkipReason.CONSENT_REFUSED: "The buyer did not allow marketing or the sale of their data.",
    SkipReason.TOO_OLD: ("placed on {day}, more than 7 days before Pinbridge received it (imported or back-dated): "
                         "Pinterest accepts events from the last 7 days only"),
    SkipReason.BACKDATED_SKIPPED: ("dated long before it reached Pinbridge (imported or back-dated): not sent "
                                   "(send_backdated is 'skip'; choose 'offline' to send these)"),
}
