//! RDS Postgres: ensure, drift, snapshots, restore checks, connection URLs.
