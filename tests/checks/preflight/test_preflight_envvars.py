from __future__ import annotations

from pathlib import Path

import pytest

from releasegate.checks import secrets
from releasegate.checks.preflight import envvars
from releasegate.checks.preflight.envvars import Variables
from releasegate.checks.result import Outcome

REAL_ANTHROPIC = "sk-ant-api03-" + "Qx7vB2mN9pL4kR8sT1wY6zA3cD5fG0hJ" * 3


def variables(**values: str) -> Variables:
    return Variables(values, "test values")


@pytest.mark.parametrize(
    "value",
    [
        "your_api_key",
        "your_service_role_key",
        "https://your-project.supabase.co",
        "changeme",
        "CHANGE_ME",
        "<your key here>",
        "sk-ant-api03-dev-key",
        "sk-ant-...",
        "sk-...",
        "AIza...",
        "xxx",
        "sk-xxxxxxxx",
        "TODO",
        "todo: fill in",
        "${JWT_SECRET}",
        "",
        "   ",
    ],
)
def test_placeholders_are_recognised(value: str) -> None:
    assert envvars.placeholder_reason(value) is not None


@pytest.mark.parametrize(
    "value",
    [REAL_ANTHROPIC, "postgresql://app:Zr8!q@db.internal:5432/app", "INFO", "production", "10", "false",
     "https://app.example.com", "test"],
)
def test_real_values_are_not_placeholders(value: str) -> None:
    assert envvars.placeholder_reason(value) is None


def test_set_secret_is_masked_and_registered() -> None:
    result = envvars.check_set(variables(JWT_SECRET_KEY="a-real-looking-secret-8f2b1c"), "JWT_SECRET_KEY")
    assert result.outcome is Outcome.PASS
    assert result.observed == "set (masked)"
    assert "a-real-looking-secret-8f2b1c" in secrets.registered()
    assert "a-real-looking-secret-8f2b1c" not in result.to_json()


def test_placeholder_secret_fails_without_showing_it() -> None:
    result = envvars.check_set(variables(ANTHROPIC_API_KEY="sk-ant-api03-dev-key"), "ANTHROPIC_API_KEY")
    assert result.outcome is Outcome.FAIL
    assert "placeholder" in result.detail and "Anthropic" in result.detail
    assert "sk-ant-api03-dev-key" not in result.to_json()


def test_missing_and_empty_fail() -> None:
    assert envvars.check_set(variables(), "DATABASE_URL").observed == "not set"
    assert envvars.check_set(variables(), "DATABASE_URL").failed
    assert envvars.check_set(variables(LOG_LEVEL=""), "LOG_LEVEL").failed


def test_all_set_names_every_problem() -> None:
    result = envvars.check_all_set(
        variables(SUPABASE_URL="https://your-project.supabase.co", JWT_SECRET_KEY="k9-Hj2-real-secret"),
        ["SUPABASE_URL", "JWT_SECRET_KEY", "OPENAI_API_KEY"],
    )
    assert result.failed
    assert "SUPABASE_URL" in result.detail and "OPENAI_API_KEY" in result.detail
    assert "JWT_SECRET_KEY is set" not in result.detail


def test_any_set() -> None:
    names = ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY"]
    assert envvars.check_any_set(variables(OPENAI_API_KEY="sk-..."), names).failed
    result = envvars.check_any_set(variables(OPENAI_API_KEY="sk-...", ANTHROPIC_API_KEY=REAL_ANTHROPIC), names)
    assert result.passed
    assert result.observed["ANTHROPIC_API_KEY"] == "set (masked)"
    assert result.observed["GEMINI_API_KEY"] == "not set"
    assert REAL_ANTHROPIC not in result.to_json()


@pytest.mark.parametrize(
    ("value", "passed"),
    [
        ("postgresql://app:pw-123456@db.internal:5432/app", True),
        ("postgres://localhost/snowmobile_dev", True),
        ("postgresql://username:password@host:port/database", False),
        ("postgresql://db.internal:5432/", False),
        ("mysql://db/app", False),
        ("not a url", False),
    ],
)
def test_dsn(value: str, passed: bool) -> None:
    result = envvars.check_dsn(variables(DATABASE_URL=value), "DATABASE_URL")
    assert result.passed is passed, result.summary()
    assert "pw-123456" not in result.to_json()


def test_url_and_url_list() -> None:
    assert envvars.check_url(variables(SUPABASE_URL="https://abc.supabase.co"), "SUPABASE_URL").passed
    assert envvars.check_url(variables(SUPABASE_URL="abc.supabase.co"), "SUPABASE_URL").failed
    good = "https://app.example.com,https://www.example.com"
    assert envvars.check_url_list(variables(CORS_ORIGINS=good), "CORS_ORIGINS").passed
    bad = envvars.check_url_list(variables(CORS_ORIGINS="https://app.example.com,www.example.com"), "CORS_ORIGINS")
    assert bad.failed and "www.example.com" in bad.detail


def test_integer_range() -> None:
    assert envvars.check_integer(variables(N="10"), "N", 1, 100).passed
    assert envvars.check_integer(variables(N="0"), "N", 1, 100).failed
    assert envvars.check_integer(variables(N="ten"), "N").failed


def test_one_of_ignores_case() -> None:
    levels = ["DEBUG", "INFO", "WARNING", "ERROR"]
    assert envvars.check_one_of(variables(LOG_LEVEL="info"), "LOG_LEVEL", levels).passed
    result = envvars.check_one_of(variables(LOG_LEVEL="VERBOSE"), "LOG_LEVEL", levels)
    assert result.failed and result.observed == "VERBOSE"


def test_bool() -> None:
    assert envvars.check_bool(variables(DEBUG_MODE="false"), "DEBUG_MODE", False).passed
    assert envvars.check_bool(variables(DEBUG_MODE="true"), "DEBUG_MODE", False).failed
    assert envvars.check_bool(variables(DEBUG_MODE="maybe"), "DEBUG_MODE", False).failed
    assert envvars.check_bool(variables(), "DEBUG_MODE", False).failed
    assert envvars.check_bool(variables(), "DEBUG_MODE", False, unset_ok=True).passed


def test_at_most() -> None:
    assert envvars.check_at_most(variables(DB_POOL_MIN_SIZE="10", DB_POOL_MAX_SIZE="50"),
                                 "DB_POOL_MIN_SIZE", "DB_POOL_MAX_SIZE").passed
    assert envvars.check_at_most(variables(DB_POOL_MIN_SIZE="60", DB_POOL_MAX_SIZE="50"),
                                 "DB_POOL_MIN_SIZE", "DB_POOL_MAX_SIZE").failed
    missing = envvars.check_at_most(variables(DB_POOL_MIN_SIZE="10"), "DB_POOL_MIN_SIZE", "DB_POOL_MAX_SIZE")
    assert missing.failed and "DB_POOL_MAX_SIZE is not set" in missing.detail


def test_dotenv_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env.production"
    env_file.write_text(
        "DATABASE_URL=postgresql://app:dotenv-pw-77@db:5432/app\n"
        "JWT_SECRET_KEY=your_jwt_secret_key\n"
        "# comment\nLOG_LEVEL=INFO\n"
    )
    result = envvars.check_dotenv_defines(env_file, ["DATABASE_URL", "LOG_LEVEL"])
    assert result.passed, result.summary()
    assert "dotenv-pw-77" not in result.to_json()
    placeholder = envvars.check_dotenv_defines(env_file, ["JWT_SECRET_KEY"])
    assert placeholder.failed and "placeholder" in placeholder.detail
    missing = envvars.check_dotenv_defines(tmp_path / ".env.nope", ["A"])
    assert missing.failed and "does not exist" in missing.detail


def test_process_environment_over_env_files(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("LOG_LEVEL=DEBUG\nONLY_IN_FILE=1\n")
    merged = envvars.from_process({"LOG_LEVEL": "INFO"}, [env_file])
    assert merged.get("LOG_LEVEL") == "INFO"
    assert merged.get("ONLY_IN_FILE") == "1"
    assert str(env_file) in merged.source


def test_template_dsn_password_word_is_not_registered() -> None:
    envvars.check_dsn(variables(DATABASE_URL="postgresql://username:password@host:5432/database"), "DATABASE_URL")
    assert "password" not in secrets.registered()
    envvars.check_dsn(variables(DATABASE_URL="postgresql://app:Real-Pw-5521@db:5432/app"), "DATABASE_URL")
    assert "Real-Pw-5521" in secrets.registered()
