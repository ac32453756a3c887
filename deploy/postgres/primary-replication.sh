#!/bin/sh
# Run once by the postgres image when it creates the primary's cluster
# (/docker-entrypoint-initdb.d): let streaming replicas connect, with the password.
# wal_level is already "replica" and max_wal_senders 10 by default.
set -e
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
