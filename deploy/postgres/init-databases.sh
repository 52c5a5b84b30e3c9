#!/bin/sh
# One database and two roles per component: `<name>_owner` owns the database and its schema and runs the
# migrations (python -m deploy.migrate); `<name>`, the role the app connects as, owns nothing and gets only the
# privileges the migrate step grants it (shared/privileges.py). Neither is a superuser, creates databases or roles,
# or reaches another component's database.
#
# Run by the postgres image on its first start (mounted in /docker-entrypoint-initdb.d); run it again by hand at any
# time (e.g. to upgrade a deployment made with one role per component, or to reset the passwords): it creates only
# what is missing, sets the passwords, and moves what the runtime role owns to the owner role. The tests run it
# against a local server with DB_PREFIX set.
set -eu

# Inside the postgres container (PGDATA set, its pg_hba.conf ours): let the superuser take base backups from
# another container or host (python -m deploy.backup; docs/operations.md). "all" in pg_hba.conf does not cover
# replication connections; the password is POSTGRES_PASSWORD's, as for every other connection of `postgres`.
if [ -n "${PGDATA:-}" ] && [ -w "${PGDATA}/pg_hba.conf" ] \
   && ! grep -q '^host replication postgres all scram-sha-256$' "${PGDATA}/pg_hba.conf"; then
  echo 'host replication postgres all scram-sha-256' >> "${PGDATA}/pg_hba.conf"
fi

for component in ${COMPONENTS:-registry eligibility ranking monitoring notifications gateway}; do
  case "$component" in *[!a-z]* | "") echo "init-databases: bad component name: $component" >&2; exit 2 ;; esac
  name="${DB_PREFIX:-}${component}"
  owner="${name}_owner"
  upper=$(echo "$component" | tr '[:lower:]' '[:upper:]')
  # The passwords reach psql through its environment (\getenv below), never its command line (ps, /proc/*/cmdline).
  password=$(eval "printf '%s' \"\${${upper}_DB_PASSWORD:?${upper}_DB_PASSWORD must be set}\"")
  owner_password=$(eval "printf '%s' \"\${${upper}_DB_OWNER_PASSWORD:?${upper}_DB_OWNER_PASSWORD must be set}\"")
  # TEMPORARY for the registry only: its imports stage their rows in a temporary table (shared/bulk.py).
  temporary=false
  [ "$component" = registry ] && temporary=true
  INIT_RUNTIME_PASSWORD="$password" INIT_OWNER_PASSWORD="$owner_password" \
  psql -v ON_ERROR_STOP=1 --quiet --username "${POSTGRES_USER:-postgres}" --dbname postgres \
       -v name="$name" -v owner="$owner" -v temporary="$temporary" <<'SQL'
\getenv password INIT_RUNTIME_PASSWORD
\getenv owner_password INIT_OWNER_PASSWORD
-- A failing statement below must not be written to the server's log with a password in it.
SET log_min_error_statement = panic;
SET log_statement = 'none';
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') AS missing_owner,
       NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name') AS missing_runtime,
       NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') AS missing_database \gset
\if :missing_owner
CREATE ROLE :"owner";
\endif
\if :missing_runtime
CREATE ROLE :"name";
\endif
ALTER ROLE :"owner" LOGIN PASSWORD :'owner_password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS;
ALTER ROLE :"name" LOGIN PASSWORD :'password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS;
-- pg_temp last: a temporary table never shadows a real one for the app's unqualified names (also behind a pooler,
-- where a session's temporary table outlives the transaction that made it).
ALTER ROLE :"name" SET search_path = public, pg_temp;
\if :missing_database
CREATE DATABASE :"name" OWNER :"owner";
\endif
ALTER DATABASE :"name" OWNER TO :"owner";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"name" TO :"owner";
REVOKE ALL ON DATABASE :"name" FROM :"name";
GRANT CONNECT ON DATABASE :"name" TO :"name";
\if :temporary
GRANT TEMPORARY ON DATABASE :"name" TO :"name";
\endif
SQL
  # The schema objects live in `public`, owned by the owner role; whatever the runtime role still owns (a
  # deployment of the one-role days) becomes the owner's, and the runtime role's privileges come from the migrate
  # step. Nobody else may create anything in the schema.
  psql -v ON_ERROR_STOP=1 --quiet --username "${POSTGRES_USER:-postgres}" --dbname "$name" \
       -v name="$name" -v owner="$owner" <<'SQL'
ALTER SCHEMA public OWNER TO :"owner";
REASSIGN OWNED BY :"name" TO :"owner";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON SCHEMA public FROM :"name";
GRANT USAGE ON SCHEMA public TO :"name";
SQL
done
