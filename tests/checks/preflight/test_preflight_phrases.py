from __future__ import annotations

from releasegate.checks.result import CheckResult
from releasegate.steps._phrases import retry_interval, run, split_list, within_phrase


def test_within_suffix_is_optional_and_parsed() -> None:
    parser = within_phrase('"{target}" answers {method} "{path}" with status {status:d}')
    assert parser.name.endswith("[within N seconds]")
    plain = parser.parse_arguments('"demo-api" answers GET "/health" with status 200')
    assert plain == {"target": "demo-api", "method": "GET", "path": "/health", "status": 200, "within": None}
    timed = parser.parse_arguments('"demo-api" answers GET "/health" with status 200 within 30 seconds')
    assert timed["within"] == 30.0 and timed["status"] == 200
    assert parser.is_matching('"demo-api" answers GET "/health" with status 200 within 1 second')
    assert not parser.is_matching('"demo-api" answers GET "/health" with status 200 within soon')


def test_a_phrase_that_ends_in_a_free_field_keeps_the_suffix_out_of_it() -> None:
    parser = within_phrase("the database server is at version {minimum} or later")
    assert parser.parse_arguments("the database server is at version 14 or later within 5 seconds") == {
        "minimum": "14", "within": 5.0}


def test_run_retries_until_it_passes() -> None:
    outcomes = iter([False, False, True])

    def check() -> CheckResult:
        return CheckResult.judge("flaky", next(outcomes), "x", "y")

    result = run(check, within=5)
    assert result.passed and result.attempts == 3
    assert run(lambda: CheckResult.ok("once"), None).attempts == 1
    assert 0.2 <= retry_interval(1) <= retry_interval(600) == 2.0


def test_split_list() -> None:
    assert split_list("ANTHROPIC_API_KEY, OPENAI_API_KEY,GEMINI_API_KEY ,") == [
        "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY"]
