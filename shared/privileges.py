"""The runtime role's privileges on a component's schema: granted by the owner after every upgrade (shared.migrations).

The app connects as a role that owns nothing: it reads and writes rows, and nothing else (no DDL, no TRUNCATE, no
TRIGGER, no REFERENCES). What each component's app may do is declared here, in code, not inferred from the
database: a table's append-only rule is declared with the table, and the migrate step refuses to grant anything
while a declared table lacks its enabled refusing trigger (a trigger disabled by hand must not widen the grants).
The catalog only adds restrictions: a table a trigger keeps append-only is treated as such even if undeclared.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import Connection

from shared.queue_tables import DELETED_TABLES

SCHEMA = "public"
VERSION_TABLE = "alembic_version"
ROW_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
# PostgreSQL's pg_trigger.tgtype bits (src/include/catalog/pg_trigger.h).
_BEFORE, _DELETE, _UPDATE, _TRUNCATE = 1 << 1, 1 << 3, 1 << 4, 1 << 5
_APPEND_ONLY_EVENTS = frozenset({"UPDATE", "DELETE", "TRUNCATE"})
_NOT_DELETED_EVENTS = frozenset({"DELETE", "TRUNCATE"})


class PrivilegeError(RuntimeError):
    """The schema is not in the state the declaration below requires: no privilege was granted."""


@dataclass(frozen=True)
class RuntimePrivileges:
    """One component's app, as its code uses the database.

    append_only: SELECT and INSERT only; each must carry an enabled BEFORE trigger refusing UPDATE, DELETE, TRUNCATE.
    not_deleted: rows change but never go; each must carry an enabled BEFORE trigger refusing DELETE and TRUNCATE.
    deleted: the only tables the app deletes rows from (every other table: no DELETE).
    exact: tables whose privileges are these and nothing else ("UPDATE (col)" is a column grant).
    """

    append_only: frozenset[str] = frozenset()
    not_deleted: frozenset[str] = frozenset()
    deleted: frozenset[str] = frozenset()
    exact: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


# Every DELETE the apps run: shared/nonces.py expires `request_nonces` (registry, eligibility, ranking,
# monitoring, notifications); the job queue's worker deletes its own registration and periodic bookkeeping
# (shared/queue.py, DELETED_TABLES) where a service runs one; nothing else is deleted (grep services, shared and
# gateway for `delete(`). Temporary staging tables (shared/bulk.py) are the session's own. Every producer's
# `outbox_events` (shared/outbox.py) is append-only: an event, once committed, is what was announced. Finished jobs
# are deleted after their retention (shared.jobs.add_pruning).
_NONCES = frozenset({"request_nonces"})
_WITH_QUEUE = _NONCES | DELETED_TABLES
COMPONENTS: Mapping[str, RuntimePrivileges] = {
    "registry": RuntimePrivileges(
        append_only=frozenset({"audit_log", "outbox_events"}), deleted=_WITH_QUEUE | {"jobs"}
    ),
    # The nightly screening keeps a year's newest snapshots and deletes older ones; a policy's expiry notice is
    # sent once and remembered.
    "eligibility": RuntimePrivileges(
        append_only=frozenset(
            {"parameter_amendments", "award_events", "official_calendars", "outbox_events", "policy_expiry_notices"}
        ),
        not_deleted=frozenset({"awards"}),
        deleted=_WITH_QUEUE | {"screening_snapshots", "screening_snapshot_entries", "jobs"},
    ),
    "ranking": RuntimePrivileges(append_only=frozenset({"outbox_events"}), deleted=_NONCES),
    "monitoring": RuntimePrivileges(append_only=frozenset({"observations", "publications"}), deleted=_NONCES),
    # Events received and every delivery attempt are history; subscriptions are deleted softly (the log stays).
    "notifications": RuntimePrivileges(
        append_only=frozenset({"events", "delivery_attempts"}),
        not_deleted=frozenset({"subscriptions", "deliveries"}),
        deleted=_WITH_QUEUE,
    ),
    "gateway": RuntimePrivileges(
        append_only=frozenset({"key_events"}),
        exact={"api_keys": ("SELECT", "UPDATE (last_used_at)"), "key_events": ("SELECT",)},
    ),
}

# Per table with enabled BEFORE triggers of its own, the events they refuse (ENABLE ALWAYS counts; DISABLE and
# ENABLE REPLICA do not: a replica-only trigger does not fire for the app's sessions), and whether one trigger
# refuses UPDATE and DELETE both, as the append-only triggers do (a trigger on UPDATE alone guards which columns may
# change, e.g. awards_not_rewritten, so the app's updates keep the privilege).
_REFUSING_TRIGGERS = text(
    """
    SELECT c.relname AS name,
           bool_or(t.tgtype & :update <> 0) AS on_update,
           bool_or(t.tgtype & :delete <> 0) AS on_delete,
           bool_or(t.tgtype & :truncate <> 0) AS on_truncate,
           bool_or(t.tgtype & :update <> 0 AND t.tgtype & :delete <> 0) AS append_only
    FROM pg_trigger t
    JOIN pg_class c ON c.oid = t.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE NOT t.tgisinternal AND t.tgenabled IN ('O', 'A') AND t.tgtype & :before <> 0 AND n.nspname = :schema
      -- The job queue's own triggers (shared/queue.py) keep its bookkeeping; none of them refuses a change.
      AND t.tgname NOT LIKE 'procrastinate\\_%'
    GROUP BY c.relname
    """
).bindparams(before=_BEFORE, delete=_DELETE, update=_UPDATE, truncate=_TRUNCATE, schema=SCHEMA)
_TABLES = text(
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = :schema AND c.relkind IN ('r', 'p')"
).bindparams(schema=SCHEMA)
# The sequences behind a table's serial/identity columns.
_OWNED_SEQUENCES = text(
    """
    SELECT s.relname AS sequence, t.relname AS owner_table
    FROM pg_class s
    JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
    JOIN pg_class t ON t.oid = d.refobjid
    JOIN pg_namespace n ON n.oid = s.relnamespace
    WHERE s.relkind = 'S' AND d.deptype IN ('a', 'i') AND n.nspname = :schema
    """
).bindparams(schema=SCHEMA)
# Anything the role owns in this database, or the database itself: it must own nothing.
_OWNED_BY_ROLE = text(
    """
    SELECT 'relation ' || relname FROM pg_class WHERE relowner = to_regrole(:role)
    UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE proowner = to_regrole(:role)
    UNION ALL SELECT 'schema ' || nspname FROM pg_namespace WHERE nspowner = to_regrole(:role)
    UNION ALL SELECT 'type ' || typname FROM pg_type WHERE typowner = to_regrole(:role) AND typrelid = 0
    UNION ALL SELECT 'database ' || datname FROM pg_database
              WHERE datdba = to_regrole(:role) AND datname = current_database()
    ORDER BY 1
    """
)

# What would let the role act beyond its grants: attributes, and membership of any role (through SET ROLE, whatever
# NOINHERIT says: the owner's, or a predefined one such as pg_write_all_data).
_ROLE_POWERS = text(
    """
    SELECT r.rolsuper AS superuser, r.rolcreaterole AS createrole, r.rolbypassrls AS bypassrls,
           ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                 WHERE m.member = r.oid ORDER BY g.rolname) AS member_of
    FROM pg_roles r WHERE r.rolname = :role
    """
)


def _powers_beyond_grants(connection: Connection, role: str) -> list[str]:
    row = connection.execute(_ROLE_POWERS, {"role": role}).mappings().one()
    powers = [attribute.upper() for attribute in ("superuser", "createrole", "bypassrls") if row[attribute]]
    return powers + [f"membership of {member}" for member in row["member_of"]]


def refusing_triggers(connection: Connection) -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """Per table, the events (UPDATE, DELETE, TRUNCATE) an enabled BEFORE trigger of it refuses; and the tables one
    trigger keeps append-only."""
    refused: dict[str, frozenset[str]] = {}
    append_only: set[str] = set()
    for row in connection.execute(_REFUSING_TRIGGERS).mappings():
        events = {"UPDATE": row["on_update"], "DELETE": row["on_delete"], "TRUNCATE": row["on_truncate"]}
        refused[row["name"]] = frozenset(event for event, on in events.items() if on)
        if row["append_only"]:
            append_only.add(row["name"])
    return refused, frozenset(append_only)


def table_privileges(connection: Connection, component: str) -> dict[str, tuple[str, ...]]:
    """The runtime role's privileges on each table of `component`'s schema, after checking that every declared
    guarded table present carries its enabled trigger (PrivilegeError naming the table otherwise)."""
    declared = COMPONENTS[component]
    tables = set(connection.execute(_TABLES).scalars())
    triggers, append_only_by_trigger = refusing_triggers(connection)
    for required, guarded in ((_APPEND_ONLY_EVENTS, declared.append_only), (_NOT_DELETED_EVENTS, declared.not_deleted)):
        for table in sorted(guarded & tables):
            missing = required - triggers.get(table, frozenset())
            if missing:
                kind = "append-only" if required == _APPEND_ONLY_EVENTS else "never deleted"
                raise PrivilegeError(
                    f"{component}: table {table} is declared {kind} (shared/privileges.py) but no enabled BEFORE"
                    f" trigger refuses {', '.join(sorted(missing))} on"
                    f" it: re-enable or recreate its trigger (ALTER TABLE {table} ENABLE TRIGGER …) and migrate again"
                )
    privileges: dict[str, tuple[str, ...]] = {}
    for table in sorted(tables):
        if table == VERSION_TABLE:
            # The app reads the revision (readiness, the keys CLI's check); only the owner moves it.
            privileges[table] = ("SELECT",)
        elif table in declared.exact:
            privileges[table] = declared.exact[table]
        else:
            refused = triggers.get(table, frozenset())
            append_only = table in declared.append_only or table in append_only_by_trigger
            granted = {"SELECT", "INSERT"} if append_only else {"SELECT", "INSERT", "UPDATE"}
            if table in declared.deleted and not append_only and "DELETE" not in refused:
                granted.add("DELETE")
            privileges[table] = tuple(p for p in ROW_PRIVILEGES if p in granted)
    return privileges


def grant_runtime_privileges(connection: Connection, component: str, role: str) -> None:
    """Set `role`'s privileges on every table and sequence of the schema, from nothing: run after each upgrade, so
    the tables of later migrations get them too, and a privilege granted by hand is taken back. Refused
    (PrivilegeError) while the role owns anything here: ownership would let it disable a trigger or drop a table."""
    # Checked first: the owner role cannot revoke anything on an object another role owns.
    owned = list(connection.execute(_OWNED_BY_ROLE, {"role": role}).scalars())
    if owned:
        raise PrivilegeError(
            f"{component}: the runtime role {role} owns {', '.join(owned)}: it must own nothing. Run "
            f"deploy/postgres/init-databases.sh again (it hands the runtime role's objects to the owner role), "
            f"then migrate again"
        )
    powers = _powers_beyond_grants(connection, role)
    if powers:
        raise PrivilegeError(
            f"{component}: the runtime role {role} holds {', '.join(powers)}: with it the role could act as another"
            f" (SET ROLE) or past its grants. Revoke it (REVOKE <role> FROM {role}; ALTER ROLE {role} NOSUPERUSER"
            f" NOCREATEROLE NOBYPASSRLS), then migrate again"
        )
    quote = connection.dialect.identifier_preparer.quote
    who, schema = quote(role), quote(SCHEMA)
    privileges = table_privileges(connection, component)
    statements = [
        f"GRANT USAGE ON SCHEMA {schema} TO {who}",
        # Table-level REVOKE takes the column grants back too.
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {who}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {who}",
    ]
    for table, granted in privileges.items():
        statements.append(f"GRANT {', '.join(granted)} ON {schema}.{quote(table)} TO {who}")
    # A sequence only where the app inserts into its table (nextval); none of a table the app only reads.
    for row in connection.execute(_OWNED_SEQUENCES).mappings():
        if "INSERT" in privileges.get(row["owner_table"], ()):
            statements.append(f"GRANT USAGE, SELECT ON SEQUENCE {schema}.{quote(row['sequence'])} TO {who}")
    for statement in statements:
        connection.execute(text(statement))
