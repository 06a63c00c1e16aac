"""Least privilege with real roles, tried for real and rolled back; connection pool headroom."""

from __future__ import annotations

from support.database import APP_PASSWORD, READONLY_PASSWORD, Db

from releasegate.checks.database import privileges as dbsafety


def _schema(db: Db) -> None:
    db.sql("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);"
           "CREATE TABLE audit (at timestamptz NOT NULL DEFAULT now(), what text);"
           "INSERT INTO items (name) VALUES ('a');"
           "REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
           "GRANT USAGE ON SCHEMA public TO app, reader, owner_like;"
           "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO app;"
           "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO app;"
           "GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader;")


def test_application_role_cannot_create_or_drop(db: Db) -> None:
    _schema(db)
    as_admin = dbsafety.check_cannot_create_or_drop(db.dsn, "app")
    assert as_admin.passed, as_admin.summary()
    assert set(as_admin.evidence["attempts"].values()) == {"denied"}
    as_itself = dbsafety.check_cannot_create_or_drop(db.dsn_as("app", APP_PASSWORD))
    assert as_itself.passed and as_itself.evidence["role"] == "app"


def test_role_that_owns_a_table_or_may_create_fails(db: Db) -> None:
    _schema(db)
    db.sql("GRANT CREATE ON SCHEMA public TO owner_like; ALTER TABLE audit OWNER TO owner_like")
    result = dbsafety.check_cannot_create_or_drop(db.dsn, "owner_like")
    assert result.failed
    assert "CREATE TABLE public.<probe>" in str(result.observed) and "DROP TABLE public.audit" in str(result.observed)
    assert result.evidence["attempts"]["DROP TABLE public.items"] == "denied"
    assert db.sql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'releasegate_probe%'") == "0"
    assert db.sql("SELECT to_regclass('audit') IS NOT NULL") == "t"  # the real DROP was rolled back


def test_superuser_is_never_least_privilege(db: Db) -> None:
    _schema(db)
    result = dbsafety.check_cannot_create_or_drop(db.dsn)
    assert result.failed and "superuser" in result.detail


def test_readonly_role_can_only_select(db: Db) -> None:
    _schema(db)
    assert dbsafety.check_read_only(db.dsn, "reader").passed
    assert dbsafety.check_read_only(db.dsn_as("reader", READONLY_PASSWORD)).passed
    writer = dbsafety.check_read_only(db.dsn, "app")
    assert writer.failed and "may INSERT public.items" in str(writer.observed)
    assert writer.evidence["attempts"]["TRUNCATE public.items"] == "denied"
    assert db.sql("SELECT count(*) FROM items") == "1"
    db.sql("REVOKE SELECT ON audit FROM reader")
    blind = dbsafety.check_read_only(db.dsn, "reader")
    assert blind.failed and "cannot SELECT public.audit" in str(blind.observed)


def test_unknown_role_is_inconclusive_not_a_pass(db: Db) -> None:
    _schema(db)
    result = dbsafety.check_read_only(db.dsn, "nobody_here")
    assert result.inconclusive and 'role "nobody_here" does not exist' in result.detail


def test_connection_pool_against_max_connections(db: Db) -> None:
    fits = dbsafety.check_pool_fits(db.dsn, 20, 2)
    assert fits.passed and fits.evidence["max_connections"] == 100
    too_big = dbsafety.check_pool_fits(db.dsn, 50, 2)
    assert too_big.failed and "100 > 97" in too_big.detail
