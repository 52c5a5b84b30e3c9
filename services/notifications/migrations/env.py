# procrastinate's tables are left alone by autogenerate (shared.migrations.run_env filters them with
# shared.queue.is_queue_object): no SQLAlchemy metadata describes them; 0001 creates them with create_queue_schema.
from services.notifications.models import metadata
from services.notifications.settings import NotificationsSettings
from shared.migrations import run_env

run_env(metadata, NotificationsSettings)
