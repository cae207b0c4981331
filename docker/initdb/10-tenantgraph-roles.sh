#!/bin/sh
# Runs once, when the postgres container initialises an empty data volume (docker-entrypoint-initdb.d),
# as the superuser, before the server accepts TCP connections.
#
# Two login roles, neither a superuser:
#   tenantgraph_owner  owns the database and every table, runs the migrations, seeding and admin commands.
#                      BYPASSRLS: it provisions tenants and reads across them (the tables FORCE RLS, which
#                      would otherwise apply to their owner too).
#   tenantgraph_app    what the API serves requests as (through PgBouncer): NOBYPASSRLS, owns nothing. The
#                      migrations find it here and only grant it DML; they refuse it if it could bypass RLS.
set -e

if [ -z "$TENANTGRAPH_OWNER_PASSWORD" ] || [ -z "$TENANTGRAPH_APP_PASSWORD" ]; then
  echo "10-tenantgraph-roles.sh: set TENANTGRAPH_OWNER_PASSWORD and TENANTGRAPH_APP_PASSWORD" >&2
  exit 1
fi

# psql's :'name' quotes the value as a literal, so a password cannot break out of the statement.
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v db="$POSTGRES_DB" \
  -v owner_password="$TENANTGRAPH_OWNER_PASSWORD" \
  -v app_password="$TENANTGRAPH_APP_PASSWORD" <<'SQL'
CREATE ROLE tenantgraph_owner LOGIN NOSUPERUSER BYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
-- The database owner also owns its public schema (pg_database_owner, PostgreSQL 15+) and may create schemas.
ALTER DATABASE :"db" OWNER TO tenantgraph_owner;
CREATE ROLE tenantgraph_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD :'app_password';
SQL
