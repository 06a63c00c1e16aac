"""The safety lint with the real squawk binary: squawk's and strong_migrations' unsafe examples are flagged and
their safe counterparts pass; fail/warn rules and waivers; timeouts; alembic offline SQL of the demo's
migrations on the host and inside a release image; nothing is changed in the database.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from support import docker_engine
from support.database import PASSWORD, Db, alembic_folder, sql_folder

from releasegate.checks._support.paths import REPO_ROOT
from releasegate.checks.database import migrations
from releasegate.checks.database.migrations import MigrationSettings, container
from releasegate.checks.database.migrations import lint as migration_lint
from releasegate.checks.database.migrations.lint import PendingMigration
from releasegate.checks.runbook.model import MigrationLint

DEMO = REPO_ROOT / "demo" / "migrations"

# (what, unsafe SQL, the rule that must flag it, safe counterpart, run inside a transaction?)
CASES = [
    ("volatile default", "ALTER TABLE items ADD COLUMN token uuid DEFAULT gen_random_uuid();",
     "adding-field-with-default", "ALTER TABLE items ADD COLUMN token uuid;", True),
    ("NOT NULL without default", "ALTER TABLE items ADD COLUMN owner text NOT NULL;",
     "adding-required-field", "ALTER TABLE items ADD COLUMN owner text NOT NULL DEFAULT 'nobody';", True),
    ("index without CONCURRENTLY", "CREATE INDEX items_name_idx ON items (name);",
     "require-concurrent-index-creation", "CREATE INDEX CONCURRENTLY IF NOT EXISTS items_name_idx ON items (name);",
     False),
    ("column type change", "ALTER TABLE items ALTER COLUMN name TYPE varchar(50);",
     "changing-column-type", "ALTER TABLE items ADD COLUMN name_short varchar(50);", True),
    ("column rename", "ALTER TABLE items RENAME COLUMN name TO title;",
     "renaming-column", "ALTER TABLE items ADD COLUMN title text;", True),
    ("foreign key without NOT VALID",
     "ALTER TABLE orders ADD CONSTRAINT orders_item_fk FOREIGN KEY (item_id) REFERENCES items (id);",
     "adding-foreign-key-constraint",
     "ALTER TABLE orders ADD CONSTRAINT orders_item_fk FOREIGN KEY (item_id) REFERENCES items (id) NOT VALID;", True),
    ("column dropped", "ALTER TABLE items DROP COLUMN name;",
     "ban-drop-column", "COMMENT ON COLUMN items.name IS 'deprecated: dropped once no release reads it';", True),
    ("SET NOT NULL", "ALTER TABLE items ALTER COLUMN name SET NOT NULL;",
     "adding-not-nullable-field",
     "ALTER TABLE items ADD CONSTRAINT items_name_not_null CHECK (name IS NOT NULL) NOT VALID;", True),
    ("unique constraint", "ALTER TABLE items ADD CONSTRAINT items_name_key UNIQUE (name);",
     "disallowed-unique-constraint",
     "ALTER TABLE items ADD CONSTRAINT items_name_key UNIQUE USING INDEX items_name_idx;", True),
]
SESSION = {"lock_timeout": 10_000, "statement_timeout": 300_000}


def judged(sql: str, lint: MigrationLint | None = None, *, in_transaction: bool = True,
           name: str = "0003") -> list[migration_lint.Finding]:
    migration = PendingMigration(name, f"0002 -> {name}", sql)
    found = migration_lint.run_squawk([migration], pg_version="16", assume_in_transaction=in_transaction)
    found += migration_lint.timeout_overrides(migration, SESSION)
    migration_lint.judge(found, [migration], lint or MigrationLint(), SESSION)
    return found


@pytest.mark.parametrize(("what", "unsafe", "rule", "safe", "in_transaction"), CASES, ids=[c[0] for c in CASES])
def test_unsafe_examples_fail_and_their_safe_counterparts_pass(what: str, unsafe: str, rule: str, safe: str,
                                                               in_transaction: bool) -> None:
    flagged = judged(unsafe, in_transaction=in_transaction)
    failing = {f.rule for f in flagged if f.verdict == "fail"}
    assert rule in failing, f"{what}: {[(f.rule, f.verdict) for f in flagged]}"
    finding = next(f for f in flagged if f.rule == rule)
    assert finding.line == 1 and finding.statement.startswith(unsafe.split()[0]) and finding.message
    counterpart = judged(safe, in_transaction=in_transaction)
    assert [f.rule for f in counterpart if f.verdict == "fail"] == [], f"{what}: {counterpart}"


def test_the_timeout_rules_are_covered_by_the_session_and_a_migration_lifting_them_fails() -> None:
    plain = judged("ALTER TABLE items ADD COLUMN note text;")
    covered = {f.rule: f for f in plain if f.verdict == "covered"}
    assert set(covered) == {"require-lock-timeout", "require-statement-timeout"}
    assert "lock_timeout = 10000 ms" in covered["require-lock-timeout"].reason

    lifted = judged("SET lock_timeout = 0;\nSET LOCAL statement_timeout TO '10min';\n"
                    "SELECT set_config('lock_timeout', '30s', false);\nALTER TABLE items ADD COLUMN note text;")
    overrides = [f for f in lifted if f.rule == "timeout-override"]
    assert [(f.line, f.verdict) for f in overrides] == [(1, "fail"), (2, "fail"), (3, "fail")]
    assert "0 (no limit)" in overrides[0].message and "lock_timeout_s" in overrides[0].help
    stricter = judged("SET lock_timeout = '2s';\nSET statement_timeout = 60000;\nALTER TABLE items ADD COLUMN n text;")
    assert [f for f in stricter if f.rule == "timeout-override"] == []


def test_warn_only_rules_fail_lists_and_waivers() -> None:
    sql = "CREATE INDEX items_name_idx ON items (name);\nALTER TABLE items DROP COLUMN legacy;\n"
    verdicts = {f.rule: f.verdict for f in judged(sql)}
    assert verdicts["require-concurrent-index-creation"] == "fail" and verdicts["ban-drop-column"] == "fail"
    assert {f.rule: f.verdict for f in judged("ALTER TABLE items ADD COLUMN code char(3);")}["ban-char-field"] == "warn"

    warn = MigrationLint(warn=["require-concurrent-index-creation"])
    verdicts = {f.rule: f.verdict for f in judged(sql, warn)}
    assert verdicts["require-concurrent-index-creation"] == "warn" and verdicts["ban-drop-column"] == "fail"

    only_drops = MigrationLint(fail=["ban-drop-column"], warn=[])
    verdicts = {f.rule: f.verdict for f in judged(sql, only_drops)}
    assert verdicts == {**verdicts, "require-concurrent-index-creation": "warn", "ban-drop-column": "fail"}

    waived = MigrationLint.model_validate({"waivers": [
        {"rule": "ban-drop-column", "migration": "0003", "reason": "legacy unread since 1.0.0; reviewed by dba"},
        {"rule": "ban-drop-column", "migration": "0009", "reason": "another release"}]})
    migration = PendingMigration("0003", "0002 -> 0003", sql)
    found = migration_lint.run_squawk([migration], pg_version="16")
    unused = migration_lint.judge(found, [migration], waived, SESSION)
    drop = next(f for f in found if f.rule == "ban-drop-column")
    assert drop.verdict == "waived" and "reviewed by dba" in drop.reason
    assert unused == [{"rule": "ban-drop-column", "migration": "0009", "reason": "another release"}]


def test_lint_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="both in fail and warn: ban-drop-column"):
        MigrationLint(fail=["ban-drop-column"], warn=["ban-drop-column"])
    with pytest.raises(ValidationError, match="not a squawk rule name"):
        MigrationLint(warn=["Ban Drop Column"])
    with pytest.raises(ValidationError, match="reason"):
        MigrationLint.model_validate({"waivers": [{"rule": "ban-drop-column", "migration": "0003", "reason": ""}]})
    with pytest.raises(ValidationError, match=r"squawk 2\.[0-9.]+ has no rule 'no-such-rule'"):
        MigrationLint(warn=["no-such-rule"])
    with pytest.raises(ValidationError, match="has no rule 'ban-drop-colum'"):
        MigrationLint.model_validate({"waivers": [{"rule": "ban-drop-colum", "migration": "3", "reason": "x"}]})
    assert MigrationLint(fail=["timeout-override", "ban-drop-column"]).fail == ["timeout-override", "ban-drop-column"]
    unchecked = MigrationLint.model_construct(fail=None, warn=["no-such-rule"], include=[], waivers=[], pg_version=None)
    with pytest.raises(migration_lint.LintError, match=r"lint\.warn: squawk .* has no rule 'no-such-rule'"):
        migration_lint.check_rule_names(unchecked)


def test_an_unknown_rule_in_the_runbook_is_one_line_naming_file_line_and_field(tmp_path: Path) -> None:
    from releasegate.checks.runbook import load_runbook

    path = tmp_path / "local.yaml"
    path.write_text("name: local\ndatabase:\n  dsn: postgresql://u:p@127.0.0.1:5432/db\n  migrations:\n"
                    "    lint:\n      warn: [require-concurrent-index-creatoin]\n")
    with pytest.raises(Exception) as raised:
        load_runbook(path, {})
    message = str(raised.value)
    assert len(message.splitlines()) == 1 and f"{path}:6" in message and "migrations.lint.warn" in message
    assert "has no rule 'require-concurrent-index-creatoin'" in message


def test_alembic_offline_output_is_split_per_revision() -> None:
    text = ("BEGIN;\n\nCREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL);\n\n"
            "-- Running upgrade  -> 0001\n\nCREATE TABLE items (id bigint);\n\n"
            "INSERT INTO alembic_version (version_num) VALUES ('0001');\n\n"
            "-- Running upgrade 0001 -> 0002\n\nCREATE INDEX i ON items (id);\n\nCOMMIT;\n\n")
    split = migration_lint.split_offline(text)
    assert [(m.name, m.label) for m in split] == [("0001", "base -> 0001"), ("0002", "0001 -> 0002")]
    assert split[1].sql == "CREATE INDEX i ON items (id);\n" and "alembic_version (version_num)" in split[0].sql
    with pytest.raises(migration_lint.LintError, match="several alembic heads"):
        migration_lint.offline_range("a1,b2")


def _demo_folder(target: Path, revisions: int) -> Path:
    """The demo's migrations (its env.py) with its first ``revisions`` revisions."""
    (target / "versions").mkdir(parents=True)
    shutil.copy(DEMO / "env.py", target / "env.py")
    for script in sorted((DEMO / "versions").glob("*.py"))[:revisions]:
        shutil.copy(script, target / "versions" / script.name)
    return target


def _untouched(db: Db) -> str:
    return db.sql("SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables"
                  " WHERE table_schema = 'public'") + "|" + db.sql("SELECT version_num FROM alembic_version")


def test_demo_migrations_from_the_previous_release_pass_and_from_scratch_the_index_fails(
        db: Db, tmp_path: Path) -> None:
    assert migrations.apply_migrations(db.dsn, MigrationSettings(path=str(_demo_folder(tmp_path / "old", 2))))[0].passed
    before = _untouched(db)
    settings = MigrationSettings(path=str(DEMO))
    started = time.monotonic()
    result = migration_lint.check_lint(db.dsn, settings, MigrationLint())
    elapsed = time.monotonic() - started
    assert result.passed, result.summary()
    assert result.observed == "0 failing, 0 warnings, 0 waived in 1 pending migrations"
    assert {f["verdict"] for f in result.evidence["findings"]} == {"covered"}
    assert [m["name"] for m in result.evidence["migrations"]] == ["0003"]
    assert "ADD COLUMN description TEXT" in result.evidence["migrations"][0]["sql"]
    assert result.evidence["source"].startswith("alembic offline mode (0002:head)")
    assert _untouched(db) == before and PASSWORD not in str(result.evidence)
    print(f"lint of the demo's pending migration (0002 -> 0003): {elapsed:.2f}s")

    assert migrations.apply_migrations(db.dsn, settings)[0].passed
    at_head = migration_lint.check_lint(db.dsn, settings, MigrationLint())
    assert at_head.passed and at_head.observed == "no pending migration (the database is at 0003)"
    db.sql("DROP TABLE items; DROP TABLE alembic_version")
    result = migration_lint.check_lint(db.dsn, settings, MigrationLint())
    assert result.failed and "0002 line" in result.detail and "require-concurrent-index-creation" in result.detail
    assert "CREATE INDEX ix_items_created_at ON items (created_at)" in result.detail
    waived = MigrationLint.model_validate({"waivers": [{"rule": "require-concurrent-index-creation",
                                                        "migration": "0002", "reason": "empty table at 0002"}]})
    result = migration_lint.check_lint(db.dsn, settings, waived)
    assert result.passed and "empty table at 0002" in result.detail, result.summary()
    assert result.evidence["waived"][0]["migration"] == "0002"


def test_sql_files_are_linted_as_they_are(db: Db, tmp_path: Path) -> None:
    folder = sql_folder(tmp_path / "sql", third=None)
    assert migrations.apply_migrations(db.dsn, MigrationSettings(tool="sql", path=str(folder)))[0].passed
    (folder / "0003_items_owner.sql").write_text("-- 1.1.0: who owns an item\n\n"
                                                 "ALTER TABLE items ADD COLUMN owner text NOT NULL;\n")
    result = migration_lint.check_lint(db.dsn, MigrationSettings(tool="sql", path=str(folder)), MigrationLint())
    assert result.failed, result.summary()
    finding = next(f for f in result.evidence["findings"] if f["rule"] == "adding-required-field")
    assert (finding["migration"], finding["line"]) == ("0003", 3)
    assert result.evidence["migrations"][0]["path"].endswith("0003_items_owner.sql")
    assert migrations.pending(db.dsn, MigrationSettings(tool="sql", path=str(folder))) == ["0003"]


def test_lock_bounds(db: Db, tmp_path: Path) -> None:
    folder = sql_folder(tmp_path / "sql", third=None)
    settings = MigrationSettings(tool="sql", path=str(folder), lock_timeout_s=5, timeout_s=60)
    assert migrations.apply_migrations(db.dsn, settings)[0].passed
    (folder / "0003_add_note.sql").write_text("ALTER TABLE items ADD COLUMN note text;\n")
    assert migration_lint.check_lock_time(db.dsn, settings, MigrationLint(), 5).passed
    waits = migration_lint.check_lock_time(db.dsn, settings, MigrationLint(), 2)
    assert waits.failed and "lock_timeout_s to at most 2" in waits.detail

    (folder / "0004_retype.sql").write_text("ALTER TABLE items ALTER COLUMN name TYPE varchar(80);\n")
    held = migration_lint.check_lock_time(db.dsn, settings, MigrationLint(), 10)
    assert held.failed and "0004 line 1" in held.detail and "statement_timeout 60s" in held.detail
    assert held.evidence["long_locks"][0]["rule"] == "changing-column-type"
    short = MigrationSettings(tool="sql", path=str(folder), lock_timeout_s=5, timeout_s=10)
    assert migration_lint.check_lock_time(db.dsn, short, MigrationLint(), 10).passed

    (folder / "0005_no_limit.sql").write_text("SET lock_timeout = 0;\nALTER TABLE items ADD COLUMN n2 text;\n")
    lifted = migration_lint.check_lock_time(db.dsn, short, MigrationLint(), 10)
    assert lifted.failed and "0005 line 1: timeout-override" in lifted.detail


def test_an_unreachable_database_is_inconclusive(db: Db) -> None:
    dsn = db.dsn.replace(str(db.cluster.port), "1")
    result = migration_lint.check_lint(dsn, MigrationSettings(path=str(DEMO)), MigrationLint())
    assert result.inconclusive and "unreachable" in result.detail and PASSWORD not in result.detail


@pytest.fixture(scope="module")
def lint_image() -> Iterator[str]:
    """releasegate-demo:1.1.0 with this checkout's demo CLI and env.py (the stack builds them into the next
    images); removed afterwards."""
    docker_engine.ensure_running()
    if subprocess.run(["docker", "image", "inspect", "releasegate-demo:1.1.0"], capture_output=True,
                      timeout=30).returncode:
        pytest.fail("releasegate-demo:1.1.0 is missing: scripts/setup builds it")
    tag = f"releasegate-lint-test:{secrets.token_hex(4)}"
    context = Path(f"/tmp/releasegate-lint-image-{secrets.token_hex(4)}")
    context.mkdir()
    shutil.copy(REPO_ROOT / "demo" / "demo_service" / "__main__.py", context / "__main__.py")
    shutil.copy(DEMO / "env.py", context / "env.py")
    (context / "Dockerfile").write_text("FROM releasegate-demo:1.1.0\nCOPY __main__.py /app/demo_service/__main__.py\n"
                                        "COPY env.py /app/migrations/env.py\n")
    try:
        subprocess.run(["docker", "build", "-q", "-t", tag, str(context)], check=True, capture_output=True,
                       timeout=300)
        yield tag
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=120)
        shutil.rmtree(context, ignore_errors=True)


def test_the_sql_comes_from_the_release_image(db: Db, tmp_path: Path, lint_image: str) -> None:
    assert migrations.apply_migrations(db.dsn, MigrationSettings(path=str(_demo_folder(tmp_path / "old", 2))))[0].passed
    settings = MigrationSettings(run="container", image=lint_image, sql_command=["sql", "{range}"])
    started = time.monotonic()
    result = migration_lint.check_lint(db.dsn, settings, MigrationLint())
    elapsed = time.monotonic() - started
    assert result.passed, result.summary()
    assert result.evidence["source"] == f"alembic offline mode (0002:head) in image {lint_image}"
    assert [m["name"] for m in result.evidence["migrations"]] == ["0003"]
    print(f"lint of the demo's pending migration in the release image: {elapsed:.2f}s")
    broken = MigrationSettings(run="container", image=lint_image, sql_command=["no-such-command", "{range}"])
    result = migration_lint.check_lint(db.dsn, broken, MigrationLint())
    assert result.inconclusive and "in image" in result.detail


def test_the_session_timeouts_reach_the_server_from_a_container(db: Db, lint_image: str) -> None:
    """What the lint counts as covered holds: docker exec passes PGOPTIONS, and libpq in the image applies it."""
    import os

    name = f"rg-lint-{secrets.token_hex(4)}"
    env = dict(os.environ, DATABASE_URL=db.dsn)
    subprocess.run(["docker", "run", "-d", "--rm", "--name", name, "--network", "host", "-e", "DATABASE_URL",
                    "--entrypoint", "sleep", lint_image, "300"], env=env, check=True, capture_output=True, timeout=60)
    try:
        settings = MigrationSettings(run="container", container=name, lock_timeout_s=3, timeout_s=45)
        probe = ("import os, psycopg; c = psycopg.connect(os.environ['DATABASE_URL']);"
                 " print(*(c.execute('SHOW ' + s).fetchone()[0] for s in ('lock_timeout', 'statement_timeout')))")
        done = container.exec_in_container(settings, ["python", "-c", probe], timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["3s", "45s"]
        # the lint's SQL from the running container (docker exec: no entrypoint, the whole command)
        assert migrations.apply_migrations(db.dsn, MigrationSettings(path=str(DEMO)))[0].passed
        db.sql("UPDATE alembic_version SET version_num = '0002'; ALTER TABLE items DROP COLUMN description")
        exec_settings = MigrationSettings(run="container", container=name,
                                          sql_command=["python", "-m", "demo_service", "sql", "{range}"])
        result = migration_lint.check_lint(db.dsn, exec_settings, MigrationLint())
        assert result.passed and result.evidence["source"] == f"alembic offline mode (0002:head) in container {name}"
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)


def test_an_online_only_env_py_is_linted_without_migrating(db: Db, tmp_path: Path) -> None:
    assert migrations.apply_migrations(db.dsn, MigrationSettings(
        path=str(alembic_folder(tmp_path / "old", third=None))))[0].passed
    result = migration_lint.check_lint(db.dsn, MigrationSettings(path=str(alembic_folder(tmp_path / "new"))),
                                       MigrationLint())
    assert result.failed and "0003 line 3: require-concurrent-index-creation" in result.detail, result.summary()
    assert migrations.current_version(db.dsn, "alembic") == "0002"
    assert db.sql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'items'"
                  " AND column_name = 'description'") == "0"
