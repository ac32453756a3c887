#!/bin/sh
# A hot standby of the compose file's primary (service "db"): on first start, copy it
# with pg_basebackup -R (standby.signal + primary_conninfo), then run PostgreSQL, which
# streams the primary's write-ahead log and answers read-only queries.
set -e
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA" && chmod 700 "$PGDATA"
  until pg_basebackup -h "$PRIMARY_HOST" -U postgres -D "$PGDATA" -R -X stream -c fast; do
    echo "waiting for the primary to accept a base backup"; sleep 2
  done
fi
exec postgres -c hot_standby=on
