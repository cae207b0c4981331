#!/usr/bin/env bash
# Starts PgBouncer in transaction pooling mode on 127.0.0.1:${PGBOUNCER_PORT:-6432} in front of the PostgreSQL
# server on 127.0.0.1:5432 (trust auth), for the test run that sends the app role's connections through it.
# Usage: .ci/pgbouncer.sh start | stop
set -euo pipefail
port=${PGBOUNCER_PORT:-6432}
dir=/tmp/tenantgraph-pgbouncer-$port

case "${1:-}" in
  start)
    if ! command -v pgbouncer >/dev/null; then
      if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
      else
        echo "pgbouncer is not installed (apt-get install pgbouncer)" >&2; exit 1
      fi
    fi
    mkdir -p "$dir" && chmod 755 "$dir"
    # Every database name maps to the same name on the server; the app role, the superuser and (to prove `cli sql`
    # refuses a pooled operator connection) the operator role may connect.
    cat > "$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
admin_users = postgres
auth_file = $dir/users.txt
pool_mode = transaction
default_pool_size = 10
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
pidfile = $dir/pgbouncer.pid
logfile = $dir/pgbouncer.log
INI
    printf '"tenantgraph_app" ""\n"tenantgraph_operator" ""\n"postgres" ""\n' > "$dir/users.txt"
    chmod 644 "$dir"/*
    if [ "$(id -u)" = 0 ]; then chown -R postgres "$dir"; runas=(-u postgres); else runas=(); fi
    pgbouncer -d "${runas[@]}" "$dir/pgbouncer.ini"
    for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && exit 0; sleep 0.1; done
    echo "PgBouncer did not start; see $dir/pgbouncer.log" >&2; cat "$dir/pgbouncer.log" >&2; exit 1
    ;;
  stop)
    [ -f "$dir/pgbouncer.pid" ] && kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true
    ;;
  *)
    echo "usage: $0 start|stop" >&2; exit 2
    ;;
esac
