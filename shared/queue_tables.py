"""The job queue's tables by name (shared/queue.py), for what must know them without loading the queue library: the
runtime role's privileges (shared/privileges.py) and Alembic's comparison (shared/migrations.py), which run in every
migrate and every keys command."""

TABLE_PREFIX = "procrastinate_"
# The tables the worker deletes rows from: its own registration (unregister, pruning of stalled workers), the
# periodic tasks' bookkeeping (`procrastinate_defer_periodic_job_v2` deletes the previous defer of a task), and the
# jobs that succeeded (`delete_jobs="successful"`: one row per webhook delivery would otherwise stay for ever, and
# every fetch and every metrics sample would read more of them; a job's lasting record is the service's own, its
# `jobs` or `deliveries` row). Their events go with them (ON DELETE CASCADE, run as the table's owner).
DELETED_TABLES = frozenset({"procrastinate_workers", "procrastinate_periodic_defers", "procrastinate_jobs"})
QUEUE_TABLES = frozenset(
    {"procrastinate_jobs", "procrastinate_events", "procrastinate_workers", "procrastinate_periodic_defers"}
)


def is_queue_object(name: str | None) -> bool:
    """Procrastinate's own objects, which no service's SQLAlchemy metadata describes (Alembic leaves them alone)."""
    return bool(name) and str(name).startswith(TABLE_PREFIX)
