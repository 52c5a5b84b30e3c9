#!/bin/sh
# One database and one least-privilege role per component. Run by the postgres image on its first start
# (mounted in /docker-entrypoint-initdb.d); the tests run it against a local server with DB_PREFIX set.
# Each role owns only its own database: no superuser, no CREATEDB, no CREATEROLE, no access to the others.
set -eu

for component in ${COMPONENTS:-registry eligibility ranking monitoring gateway}; do
  name="${DB_PREFIX:-}${component}"
  upper=$(echo "$component" | tr '[:lower:]' '[:upper:]')
  password=$(eval "printf '%s' \"\${${upper}_DB_PASSWORD:?${upper}_DB_PASSWORD must be set}\"")
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
       -v name="$name" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"name" TO :"name";
SQL
  # The service's schema objects live in `public`; its role owns that schema in its own database.
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "$name" -v name="$name" <<'SQL'
ALTER SCHEMA public OWNER TO :"name";
SQL
done
