"""Every model of the notifications service, so that Alembic sees one complete metadata."""

from services.notifications.db import Base
from services.notifications.deliveries.models import Delivery, DeliveryAttempt
from services.notifications.events.models import StoredEvent
from services.notifications.relay.models import RelayCursor
from services.notifications.subscriptions.models import Subscription
from shared.nonces import nonce_table

metadata = Base.metadata
# Signed writes already accepted (shared.nonces).
request_nonces = nonce_table(metadata)

__all__ = ["Delivery", "DeliveryAttempt", "RelayCursor", "StoredEvent", "Subscription", "metadata", "request_nonces"]
