"""The database stage.

connection, server and privilege checks, verified backups, fingerprints, the run's database state,
migrations and their rollback.
"""
