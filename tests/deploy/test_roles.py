"""Two roles per component, as deploy/postgres/init-databases.sh makes them and `python -m deploy.migrate` grants
them: the owner owns everything, the runtime role (the app's) owns nothing and cannot alter, empty or rewrite an
append-only table, whatever SQL it sends."""

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from deploy.migrate import COMPONENTS
from shared.privileges import COMPONENTS as DECLARED
from shared.settings import PROJECT_ROOT
from tests.support import postgres_admin_url

pytestmark = pytest.mark.e2e

INIT_SCRIPT = PROJECT_ROOT / "deploy/postgres/init-databases.sh"
PASSWORDS = {
    **{f"{name.upper()}_DB_PASSWORD": f"{name}-runtime-secret" for name in COMPONENTS},
    **{f"{name.upper()}_DB_OWNER_PASSWORD": f"{name}-owner-secret" for name in COMPONENTS},
}
# The tables each component keeps append-only by a trigger (SELECT and INSERT only for the app), and those whose
# rows may change but never go. Worked out from the migrations; the catalog must agree.
APPEND_ONLY = {
    "registry": {"audit_log", "outbox_events"},
    "eligibility": {
        "parameter_amendments",
        "award_events",
        "official_calendars",
        "outbox_events",
        "policy_expiry_notices",
    },
    "ranking": {"outbox_events"},
    "monitoring": {"observations", "publications"},
    # Events received and every delivery attempt are history (issue 17).
    "notifications": {"events", "delivery_attempts"},
    "gateway": {"key_events"},
}
NOT_DELETED = {"eligibility": {"awards"}, "notifications": {"subscriptions", "deliveries"}}
# The only tables the apps delete rows from: shared/nonces.py expires the nonces; a job queue's worker deletes its
# own registration and periodic bookkeeping (shared/queue.py); the nightly screening keeps a year's newest snapshots.
# The queue's worker deletes its registration, its periodic bookkeeping and the jobs that succeeded.
QUEUE_DELETED = {"procrastinate_workers", "procrastinate_periodic_defers", "procrastinate_jobs"}
# Finished jobs go after their retention (shared.jobs.add_pruning).
DELETED = {"registry": {"request_nonces", *QUEUE_DELETED, "jobs"},
           "eligibility": {"request_nonces", *QUEUE_DELETED, "screening_snapshots", "screening_snapshot_entries",
                           "jobs"},
           "ranking": {"request_nonces"}, "monitoring": {"request_nonces"},
           "notifications": {"request_nonces", *QUEUE_DELETED}, "gateway": set()}  # fmt: skip
# The gateway reads keys and notes their last use; the keys CLI writes as the owner role.
EXACT = {"gateway": {"api_keys": {"SELECT"}, "key_events": {"SELECT"}}}
COLUMN_UPDATES = {"gateway": {"api_keys": {"last_used_at"}}}
# Rows the runtime role reads and writes; the tables of later migrations get the same (DELETE only where listed).
READ_WRITE = {"SELECT", "INSERT", "UPDATE", "DELETE"}
NEVER = ("TRUNCATE", "REFERENCES", "TRIGGER")


class Deployment:
    def __init__(self, pgdata: Path) -> None:
        # The server's data directory as the postgres container gives it: only its pg_hba.conf is touched.
        self.pgdata = pgdata
        (pgdata / "pg_hba.conf").write_text("local all all trust\n")
        self.prefix = f"rt{uuid.uuid4().hex[:6]}_"
        admin = make_url(postgres_admin_url())
        self.host, self.port = admin.host or "127.0.0.1", admin.port or 5432
        self.admin_user = admin.username or "postgres"

    def database(self, component: str) -> str:
        return f"{self.prefix}{component}"

    def url(self, component: str, *, owner: bool = False, driver: str = "postgresql") -> str:
        role = f"{self.prefix}{component}_owner" if owner else f"{self.prefix}{component}"
        secret = PASSWORDS[f"{component.upper()}_DB_{'OWNER_' if owner else ''}PASSWORD"]
        return f"{driver}://{role}:{secret}@{self.host}:{self.port}/{self.database(component)}"

    def init(self, **extra: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **PASSWORDS, "DB_PREFIX": self.prefix, "PGHOST": self.host, "PGPORT": str(self.port)}
        env |= {"POSTGRES_USER": self.admin_user, "PGDATA": str(self.pgdata), **extra}
        return subprocess.run(
            ["sh", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    def migrate(self, *components: str, **extra: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        for component in COMPONENTS:
            env[f"{component.upper()}_DATABASE_URL"] = self.url(component, driver="postgresql+asyncpg")
            env[f"{component.upper()}_MIGRATION_DATABASE_URL"] = self.url(
                component, owner=True, driver="postgresql+asyncpg"
            )
        env |= extra
        return subprocess.run(
            [sys.executable, "-m", "deploy.migrate", *(components or COMPONENTS)],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip

    async def admin(self, database: str = "postgres") -> asyncpg.Connection:
        return await asyncpg.connect(host=self.host, port=self.port, user=self.admin_user, database=database)

    async def drop(self) -> None:
        connection = await self.admin()
        try:
            for component in COMPONENTS:
                await connection.execute(f'DROP DATABASE IF EXISTS "{self.database(component)}" WITH (FORCE)')
            for component in COMPONENTS:
                for role in (f"{self.prefix}{component}", f"{self.prefix}{component}_owner"):
                    await connection.execute(f'DROP ROLE IF EXISTS "{role}"')
        finally:
            await connection.close()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    made = Deployment(tmp_path_factory.mktemp("pgdata"))
    try:
        init = made.init()
        assert init.returncode == 0, init.stderr
        migrated = made.migrate()
        assert migrated.returncode == 0, migrated.stderr
        yield made
    finally:
        asyncio.run(made.drop())


@pytest.fixture
async def registry_runtime(deployment: Deployment) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(deployment.url("registry"))
    try:
        yield connection
    finally:
        await connection.close()


async def _snapshot(deployment: Deployment) -> list[Any]:
    """Everything the init script decides: roles and their attributes, databases, owners and privileges."""
    connection = await deployment.admin()
    try:
        pattern = f"{deployment.prefix}%"
        roles = await connection.fetch(
            "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolreplication, rolbypassrls, "
            "rolcanlogin, rolpassword IS NOT NULL AS has_password FROM pg_authid WHERE rolname LIKE $1 ORDER BY 1",
            pattern,
        )
        databases = await connection.fetch(
            "SELECT datname, pg_get_userbyid(datdba), datacl::text FROM pg_database WHERE datname LIKE $1 ORDER BY 1",
            pattern,
        )
    finally:
        await connection.close()
    schemas = []
    for component in COMPONENTS:
        inside = await deployment.admin(deployment.database(component))
        try:
            schemas.append(
                await inside.fetch(
                    "SELECT nspname, pg_get_userbyid(nspowner), nspacl::text FROM pg_namespace WHERE nspname = "
                    "'public' UNION ALL SELECT relname, pg_get_userbyid(relowner), relacl::text FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1"
                )
            )
        finally:
            await inside.close()
    return [list(map(tuple, roles)), list(map(tuple, databases)), [list(map(tuple, s)) for s in schemas]]


async def test_the_init_script_run_again_changes_nothing(deployment):
    before = await _snapshot(deployment)
    assert len(before[0]) == 2 * len(COMPONENTS) and len(before[1]) == len(COMPONENTS)
    again = await asyncio.to_thread(deployment.init)
    assert again.returncode == 0, again.stderr
    assert await _snapshot(deployment) == before
    # The base backups' replication line, added once.
    hba = (deployment.pgdata / "pg_hba.conf").read_text().splitlines()
    assert hba == ["local all all trust", "host replication postgres all scram-sha-256"]


def test_the_init_script_gives_psql_no_password_on_its_command_line(deployment, tmp_path):
    # A psql in front of the real one, writing down its arguments (what `ps` and /proc/*/cmdline show).
    real = shutil.which("psql")
    assert real
    shim, argv_log = tmp_path / "psql", tmp_path / "argv"
    shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{argv_log}"\nexec "{real}" "$@"\n')
    shim.chmod(0o755)
    again = deployment.init(PATH=f"{tmp_path}:{os.environ['PATH']}")
    assert again.returncode == 0, again.stderr
    arguments = argv_log.read_text()
    assert arguments.count("--dbname") == 2 * len(COMPONENTS)
    for password in PASSWORDS.values():
        assert password not in arguments
    # The roles still log in with the passwords the environment gave.
    assert asyncio.run(_logs_in(deployment.url("gateway"))) and asyncio.run(
        _logs_in(deployment.url("gateway", owner=True))
    )


async def _logs_in(url: str) -> bool:
    connection = await asyncpg.connect(url)
    try:
        return bool(await connection.fetchval("SELECT true"))
    finally:
        await connection.close()


async def test_the_roles_are_least_privilege(deployment):
    connection = await deployment.admin()
    try:
        rows = await connection.fetch(
            "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles "
            "WHERE rolname LIKE $1",
            f"{deployment.prefix}%",
        )
        assert all(not any(row[1:]) for row in rows) and len(rows) == 2 * len(COMPONENTS)
        owners = {row[0]: row[1] for row in await connection.fetch(
            "SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datname LIKE $1", f"{deployment.prefix}%"
        )}  # fmt: skip
        assert owners == {deployment.database(c): f"{deployment.database(c)}_owner" for c in COMPONENTS}
    finally:
        await connection.close()
    # A component's roles reach its own database only.
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await asyncpg.connect(
            host=deployment.host,
            port=deployment.port,
            user=f"{deployment.prefix}registry",
            password=PASSWORDS["REGISTRY_DB_PASSWORD"],
            database=deployment.database("gateway"),
        )


@pytest.mark.parametrize("component", COMPONENTS)
async def test_the_runtime_role_owns_nothing_and_holds_only_row_privileges(deployment, component):
    runtime, owner = f"{deployment.prefix}{component}", f"{deployment.prefix}{component}_owner"
    connection = await deployment.admin(deployment.database(component))
    try:
        owned = await connection.fetchval(
            "SELECT count(*) FROM pg_class WHERE relowner = $1::regrole UNION ALL "
            "SELECT count(*) FROM pg_namespace WHERE nspowner = $1::regrole",
            runtime,
        )
        assert owned == 0
        objects = await connection.fetch(
            "SELECT c.relname, c.relkind::text AS relkind, pg_get_userbyid(c.relowner) AS owner FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S')"
        )
        assert {row["owner"] for row in objects} == {owner}
        tables = sorted(row["relname"] for row in objects if row["relkind"] == "r")
        sequences = sorted(row["relname"] for row in objects if row["relkind"] == "S")
        assert "alembic_version" in tables and sequences
        granted: dict[str, set[str]] = {}
        for table in tables:
            granted[table] = {
                privilege
                for privilege in (*READ_WRITE, *NEVER)
                if await connection.fetchval("SELECT has_table_privilege($1, $2, $3)", runtime, table, privilege)
            }
        # Every table with a trigger refusing DELETE: the catalog's own account, beside the list above.
        refusing = {
            row[0]
            for row in await connection.fetch(
                "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND t.tgtype & 8 <> 0"
            )
        }
        sequence_of = {
            row["sequence"]: row["owner_table"]
            for row in await connection.fetch(
                "SELECT s.relname AS sequence, t.relname AS owner_table FROM pg_class s JOIN pg_depend d "
                "ON d.objid = s.oid AND d.refclassid = 'pg_class'::regclass JOIN pg_class t ON t.oid = d.refobjid "
                "WHERE s.relkind = 'S' AND d.deptype IN ('a', 'i')"
            )
        }
        assert set(sequence_of) == set(sequences)
        sequence_usage = {
            sequence
            for sequence in sequences
            if await connection.fetchval("SELECT has_sequence_privilege($1, $2, 'USAGE')", runtime, sequence)
        }
        for sequence in sequences:
            assert not await connection.fetchval("SELECT has_sequence_privilege($1, $2, 'UPDATE')", runtime, sequence)
        # Column grants (UPDATE of one column), on the tables without a table-wide UPDATE.
        column_updates: dict[str, set[str]] = {}
        for table in tables:
            if "UPDATE" in granted[table]:
                continue
            for row in await connection.fetch(
                "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
                table,
            ):
                if await connection.fetchval(
                    "SELECT has_column_privilege($1, $2, $3, 'UPDATE')", runtime, table, row["attname"]
                ):
                    column_updates.setdefault(table, set()).add(row["attname"])
        assert not await connection.fetchval("SELECT has_schema_privilege($1, 'public', 'CREATE')", runtime)
        temporary = await connection.fetchval(
            "SELECT has_database_privilege($1, current_database(), 'TEMPORARY')", runtime
        )
        assert not await connection.fetchval("SELECT has_database_privilege($1, current_database(), 'CREATE')", runtime)
        search_path = await connection.fetchval(
            "SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting WHERE setrole = $1::regrole "
            "AND setdatabase = 0",
            runtime,
        )
    finally:
        await connection.close()
    append_only = APPEND_ONLY[component]
    not_deleted = NOT_DELETED.get(component, set())
    # The job queue's own DELETE trigger on procrastinate_jobs is its bookkeeping (it unlinks a deleted job's
    # periodic record), not a refusal: the worker deletes the jobs that succeeded.
    assert {table for table in refusing if not table.startswith("procrastinate_")} == append_only | not_deleted
    # The code's declaration (shared/privileges.py) says the same, and names only tables that exist at head.
    declared = DECLARED[component]
    assert (declared.append_only, declared.not_deleted, declared.deleted) == (
        append_only,
        not_deleted,
        DELETED[component],
    )
    assert declared.append_only | declared.not_deleted | declared.deleted | set(declared.exact) <= set(tables)
    exact = EXACT.get(component, {})
    expected = {
        table: (
            {"SELECT"}
            if table == "alembic_version"
            else exact[table]
            if table in exact
            else {"SELECT", "INSERT"}
            if table in append_only
            else READ_WRITE
            if table in DELETED[component]
            else READ_WRITE - {"DELETE"}
        )
        for table in tables
    }
    assert granted == expected
    assert DELETED[component] <= set(tables)
    assert column_updates == COLUMN_UPDATES.get(component, {})
    # nextval only where the app inserts.
    assert sequence_usage == {s for s, t in sequence_of.items() if "INSERT" in expected[t]}
    # Temporary tables for the registry's imports only (shared/bulk.py), and never ahead of the real tables.
    assert temporary == (component == "registry")
    assert search_path == "search_path=public, pg_temp"


async def test_the_runtime_role_cannot_touch_the_audit_log(registry_runtime):
    connection = registry_runtime
    inserted = await connection.fetchval(
        "INSERT INTO audit_log (occurred_at, actor_role, action, entity_type, entity_id) "
        "VALUES (now(), 'city', 'create', 'enterprise', 'role-test') RETURNING id"
    )
    refused = {
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only": "must be owner",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL": "must be owner",
        "DELETE FROM audit_log": "permission denied",
        "UPDATE audit_log SET entity_id = 'rewritten'": "permission denied",
        "TRUNCATE audit_log": "permission denied",
        "DROP TABLE audit_log": "must be owner",
        "DROP TRIGGER audit_log_append_only ON audit_log": "must be owner",
        "ALTER TABLE enterprises ADD COLUMN smuggled text": "must be owner",
        "CREATE TABLE smuggled (id int)": "permission denied for schema public",
        "CREATE FUNCTION public.smuggled() RETURNS int LANGUAGE sql AS 'SELECT 1'": "permission denied",
        "SET session_replication_role = replica": "permission denied",
        "ALTER ROLE CURRENT_USER SUPERUSER": "must be superuser",
        "UPDATE alembic_version SET version_num = '0001'": "permission denied",
    }
    for statement, reason in refused.items():
        with pytest.raises(asyncpg.PostgresError, match=reason):
            await connection.execute(statement)
    for statement in ("DELETE FROM idempotent_requests", "DELETE FROM enterprises", "DELETE FROM districts"):
        with pytest.raises(asyncpg.PostgresError, match="permission denied"):
            await connection.execute(statement)
    # What the app does stays possible: read, insert, a temporary staging table (shared/bulk.py), expiring nonces.
    assert await connection.fetchval("SELECT entity_id FROM audit_log WHERE id = $1", inserted) == "role-test"
    await connection.execute("CREATE TEMPORARY TABLE staging (id int)")
    await connection.execute("INSERT INTO staging VALUES (1)")
    assert await connection.fetchval("SELECT count(*) FROM staging") == 1
    await connection.execute("DELETE FROM request_nonces WHERE expires_at < 0")
    assert await connection.fetchval("SELECT version_num FROM alembic_version")
    # A temporary table of a real table's name does not take its rows (pg_temp is searched last).
    await connection.execute("CREATE TEMPORARY TABLE audit_log (LIKE public.audit_log INCLUDING ALL)")
    shadowed = await connection.fetchval(
        "INSERT INTO audit_log (occurred_at, actor_role, action, entity_type, entity_id) "
        "VALUES (now(), 'city', 'create', 'enterprise', 'shadow-test') RETURNING id"
    )
    assert await connection.fetchval("SELECT count(*) FROM public.audit_log WHERE id = $1", shadowed) == 1
    assert await connection.fetchval("SELECT count(*) FROM pg_temp.audit_log") == 0
    await connection.execute("DROP TABLE pg_temp.audit_log")


async def test_the_gateway_runtime_role_reads_keys_and_notes_their_use_only(deployment):
    owner = await asyncpg.connect(deployment.url("gateway", owner=True))
    runtime = await asyncpg.connect(deployment.url("gateway"))
    try:
        columns = {row[0] for row in await owner.fetch(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'api_keys'::regclass AND attnum > 0"
        )}  # fmt: skip
        assert await runtime.fetchval("SELECT count(*) FROM api_keys") >= 0
        assert await runtime.fetchval("SELECT count(*) FROM key_events") >= 0
        await runtime.execute("UPDATE api_keys SET last_used_at = now() WHERE key_id = 'no-such-key'")
        refused = [
            *(f"UPDATE api_keys SET {column} = {column} WHERE false" for column in sorted(columns - {"last_used_at"})),
            "INSERT INTO api_keys (key_id) VALUES ('minted')",
            "DELETE FROM api_keys WHERE false",
            "INSERT INTO key_events (key_id) VALUES ('forged')",
            "UPDATE key_events SET key_id = key_id WHERE false",
            "DELETE FROM key_events WHERE false",
            "TRUNCATE api_keys",
            "SELECT nextval('api_keys_id_seq')",
        ]
        for statement in refused:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await runtime.execute(statement)
    finally:
        await runtime.close()
        await owner.close()


async def test_a_disabled_append_only_trigger_fails_the_migrate_step_and_widens_nothing(deployment):
    owner = await asyncpg.connect(deployment.url("registry", owner=True))
    runtime = f"{deployment.prefix}registry"
    try:
        await owner.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        migrated = await asyncio.to_thread(deployment.migrate, "registry")
        assert migrated.returncode == 2
        assert "table audit_log is declared append-only" in migrated.stderr
        assert "UPDATE" in migrated.stderr and "migrated to head" not in migrated.stderr
        for privilege in ("UPDATE", "DELETE", "TRUNCATE"):
            assert not await owner.fetchval("SELECT has_table_privilege($1, 'audit_log', $2)", runtime, privilege)
    finally:
        await owner.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
        await owner.close()
    assert (await asyncio.to_thread(deployment.migrate, "registry")).returncode == 0


async def test_production_refuses_one_role_and_a_runtime_role_that_owns_something(deployment):
    one_role = await asyncio.to_thread(
        deployment.migrate,
        "ranking",
        RANKING_ENVIRONMENT="production",
        RANKING_MIGRATION_DATABASE_URL=deployment.url("ranking", driver="postgresql+asyncpg"),
        INTERNAL_SECRET="x" * 48,
    )
    assert one_role.returncode == 2, one_role.stderr
    assert "RANKING_MIGRATION_DATABASE_URL and RANKING_DATABASE_URL name the same role" in one_role.stderr
    admin = await deployment.admin(deployment.database("ranking"))
    runtime = f"{deployment.prefix}ranking"
    try:
        await admin.execute("CREATE TABLE smuggled (id int)")
        await admin.execute(f'ALTER TABLE smuggled OWNER TO "{runtime}"')
        owning = await asyncio.to_thread(deployment.migrate, "ranking")
        assert owning.returncode == 2
        assert f"the runtime role {runtime} owns relation smuggled" in owning.stderr
    finally:
        await admin.execute("DROP TABLE IF EXISTS smuggled")
        await admin.close()
    assert (await asyncio.to_thread(deployment.migrate, "ranking")).returncode == 0


async def test_a_runtime_role_that_could_become_another_is_refused(deployment):
    """NOINHERIT does not stop SET ROLE: a runtime role that is a member of its owner (or of pg_write_all_data, or
    holds CREATEROLE) could disable the audit trigger through it, so the migrate step grants nothing to it."""
    admin = await deployment.admin()
    runtime, owner = f"{deployment.prefix}registry", f"{deployment.prefix}registry_owner"
    try:
        for grant, undo, named in (
            (f'GRANT "{owner}" TO "{runtime}"', f'REVOKE "{owner}" FROM "{runtime}"', f"membership of {owner}"),
            (
                f'GRANT pg_write_all_data TO "{runtime}"',
                f'REVOKE pg_write_all_data FROM "{runtime}"',
                "membership of pg_write_all_data",
            ),
            (f'ALTER ROLE "{runtime}" CREATEROLE', f'ALTER ROLE "{runtime}" NOCREATEROLE', "CREATEROLE"),
        ):
            await admin.execute(grant)
            try:
                refused = await asyncio.to_thread(deployment.migrate, "registry")
            finally:
                await admin.execute(undo)
            assert refused.returncode == 2, refused.stderr
            assert f"the runtime role {runtime} holds {named}" in refused.stderr
            assert "migrated to head" not in refused.stderr
    finally:
        await admin.close()
    assert (await asyncio.to_thread(deployment.migrate, "registry")).returncode == 0


async def test_a_later_migration_s_tables_get_the_same_privileges_and_hand_grants_are_taken_back(deployment):
    owner = await asyncpg.connect(deployment.url("registry", owner=True))
    runtime = f"{deployment.prefix}registry"
    try:
        # As a later migration would: a new table, and one with an append-only trigger; and a grant made by hand.
        await owner.execute("CREATE TABLE later_rows (id bigserial PRIMARY KEY, note text)")
        await owner.execute("CREATE TABLE later_events (id bigserial PRIMARY KEY, note text)")
        await owner.execute(
            "CREATE TRIGGER later_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON later_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()"
        )
        await owner.execute(f'GRANT TRUNCATE, TRIGGER ON audit_log TO "{runtime}"')
        migrated = await asyncio.to_thread(deployment.migrate)
        assert migrated.returncode == 0, migrated.stderr

        async def privileges(table: str) -> set[str]:
            return {
                p
                for p in (*READ_WRITE, *NEVER)
                if await owner.fetchval("SELECT has_table_privilege($1, $2, $3)", runtime, table, p)
            }

        assert await privileges("later_rows") == READ_WRITE - {"DELETE"}
        assert await privileges("later_events") == {"SELECT", "INSERT"}
        assert await privileges("audit_log") == {"SELECT", "INSERT"}
        assert await owner.fetchval("SELECT has_sequence_privilege($1, 'later_rows_id_seq', 'USAGE')", runtime)
    finally:
        await owner.execute("DROP TABLE IF EXISTS later_rows, later_events")
        await owner.close()


async def test_a_one_role_deployment_is_moved_to_two_roles_by_running_the_script_again(tmp_path):
    legacy = Deployment(tmp_path)
    runtime, owner = f"{legacy.prefix}registry", f"{legacy.prefix}registry_owner"
    admin = await legacy.admin()
    try:
        # As the one-role script of earlier releases made it: the app's role owns the database and every table.
        await admin.execute(f'CREATE ROLE "{runtime}" LOGIN')
        await admin.execute(f'CREATE DATABASE "{legacy.database("registry")}" OWNER "{runtime}"')
        env = {**os.environ, "REGISTRY_DATABASE_URL": legacy.url("registry", driver="postgresql+asyncpg")}
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "deploy.migrate", "registry"],
            cwd=PROJECT_ROOT, env=env, capture_output=True, timeout=120, check=True,
        )  # fmt: skip
        env = {**os.environ, **PASSWORDS, "DB_PREFIX": legacy.prefix, "COMPONENTS": "registry"}
        env |= {"PGHOST": legacy.host, "PGPORT": str(legacy.port), "POSTGRES_USER": legacy.admin_user}
        init = await asyncio.to_thread(
            subprocess.run, ["sh", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=120
        )
        assert init.returncode == 0, init.stderr
        env = {
            **os.environ,
            "REGISTRY_DATABASE_URL": legacy.url("registry", driver="postgresql+asyncpg"),
            "REGISTRY_MIGRATION_DATABASE_URL": legacy.url("registry", owner=True, driver="postgresql+asyncpg"),
        }
        migrated = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "deploy.migrate", "registry"],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert migrated.returncode == 0, migrated.stderr
        inside = await legacy.admin(legacy.database("registry"))
        try:
            owners = {row[0] for row in await inside.fetch(
                "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
            )}  # fmt: skip
            assert owners == {owner}
            assert (
                await inside.fetchval(
                    "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
                )
                == owner
            )
        finally:
            await inside.close()
        app = await asyncpg.connect(legacy.url("registry"))
        try:
            with pytest.raises(asyncpg.PostgresError, match="must be owner"):
                await app.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
            assert await app.fetchval("SELECT count(*) FROM districts") > 0
        finally:
            await app.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{legacy.database("registry")}" WITH (FORCE)')
        for role in (runtime, owner):
            await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()
