"""The runtime role's privileges on a component's schema: granted by the owner after every upgrade (shared.migrations).

The app connects as a role that owns nothing: it reads and writes rows, and nothing else (no DDL, no TRUNCATE, no
TRIGGER, no REFERENCES). The tables a trigger keeps append-only get what the trigger allows and no more, so that
the rule binds the credential too: a role without ownership cannot disable a trigger.
"""

from sqlalchemy import text
from sqlalchemy.engine import Connection

SCHEMA = "public"
VERSION_TABLE = "alembic_version"
# PostgreSQL's pg_trigger.tgtype bits (src/include/catalog/pg_trigger.h).
_BEFORE, _DELETE, _UPDATE, _TRUNCATE = 1 << 1, 1 << 3, 1 << 4, 1 << 5

# Per table with enabled BEFORE triggers of its own: whether one refuses DELETE (or TRUNCATE), and whether one
# covers UPDATE and DELETE both, as the append-only triggers do (a trigger on UPDATE alone guards which columns may
# change, e.g. awards_not_rewritten, so the app's updates keep the privilege).
_GUARDED_TABLES = text(
    """
    SELECT c.relname AS name,
           bool_or(t.tgtype & :delete <> 0 OR t.tgtype & :truncate <> 0) AS refuses_delete,
           bool_or(t.tgtype & :delete <> 0 AND t.tgtype & :update <> 0) AS append_only
    FROM pg_trigger t
    JOIN pg_class c ON c.oid = t.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND t.tgtype & :before <> 0 AND n.nspname = :schema
    GROUP BY c.relname
    ORDER BY c.relname
    """
).bindparams(before=_BEFORE, delete=_DELETE, update=_UPDATE, truncate=_TRUNCATE, schema=SCHEMA)


def guarded_tables(connection: Connection) -> dict[str, frozenset[str]]:
    """The privileges each trigger-guarded table withholds from the runtime role: {"audit_log": {UPDATE, DELETE}}."""
    withheld: dict[str, frozenset[str]] = {}
    for row in connection.execute(_GUARDED_TABLES).mappings():
        if row["append_only"]:
            withheld[row["name"]] = frozenset({"UPDATE", "DELETE"})
        elif row["refuses_delete"]:
            withheld[row["name"]] = frozenset({"DELETE"})
    return withheld


def grant_runtime_privileges(connection: Connection, role: str) -> None:
    """Set `role`'s privileges on every table and sequence of the schema, from nothing: run after each upgrade, so
    the tables of later migrations get them too, and a privilege granted by hand is taken back. Ownership is not
    this function's: the owner role creates every object (deploy/postgres/init-databases.sh moves older ones)."""
    quote = connection.dialect.identifier_preparer.quote
    who, schema = quote(role), quote(SCHEMA)
    statements = [
        f"GRANT USAGE ON SCHEMA {schema} TO {who}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {who}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {who}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}",
        # The app reads the revision (readiness may); only the owner moves it.
        f"REVOKE INSERT, UPDATE, DELETE ON {schema}.{quote(VERSION_TABLE)} FROM {who}",
    ]
    for table, privileges in guarded_tables(connection).items():
        statements.append(f"REVOKE {', '.join(sorted(privileges))} ON {schema}.{quote(table)} FROM {who}")
    for statement in statements:
        connection.execute(text(statement))
