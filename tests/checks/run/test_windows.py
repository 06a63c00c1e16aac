"""Release windows, fixed clock: inside, outside, a freeze, the next allowed time across a week and a DST change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from releasegate.checks.run import windows
from releasegate.checks.runbook.model import ReleaseWindows

BERLIN = ZoneInfo("Europe/Berlin")


def office_hours(**extra: Any) -> ReleaseWindows:
    return ReleaseWindows.model_validate({"timezone": "Europe/Berlin",
                                         "allowed": [{"days": ["mon", "tue", "wed", "thu"], "hours": "09:00-17:00"}],
                                         **extra})


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_inside_a_window() -> None:
    checked = windows.check(office_hours(), utc(2026, 3, 24, 10, 0))  # Tuesday 11:00 CET
    assert checked.allowed
    assert checked.next_allowed is None
    assert "inside the release window mon,tue,wed,thu 09:00-17:00 (Europe/Berlin)" in checked.describe()


def test_the_end_of_a_window_is_outside_it() -> None:
    checked = windows.check(office_hours(), utc(2026, 3, 24, 16, 0))  # Tuesday 17:00 CET
    assert not checked.allowed
    assert checked.next_allowed == datetime(2026, 3, 25, 9, 0, tzinfo=BERLIN)


def test_next_allowed_time_across_the_week_boundary_and_the_spring_dst_change() -> None:
    # Thursday 26 March 2026, 18:00 CET; clocks go forward on Sunday 29 March; next window: Monday 09:00 CEST
    checked = windows.check(office_hours(), utc(2026, 3, 26, 17, 0))
    assert not checked.allowed
    assert checked.next_allowed is not None
    assert checked.next_allowed.astimezone(UTC) == utc(2026, 3, 30, 7, 0)  # 09:00 local, now UTC+2
    assert checked.next_allowed.isoformat() == "2026-03-30T09:00:00+02:00"
    assert "next allowed: 2026-03-30T09:00+02:00" in checked.describe()
    assert "it is 2026-03-26T18:00+01:00" in checked.describe()
    # the same local hours the Monday before the change were an hour later in UTC
    assert windows.check(office_hours(), utc(2026, 3, 23, 8, 0)).allowed  # 09:00 CET
    assert not windows.check(office_hours(), utc(2026, 3, 30, 6, 59)).allowed  # 08:59 CEST
    assert windows.check(office_hours(), utc(2026, 3, 30, 7, 0)).allowed  # 09:00 CEST


def test_autumn_dst_change_keeps_local_hours() -> None:
    night = ReleaseWindows.model_validate({"timezone": "Europe/Berlin",
                                          "allowed": [{"days": ["sun"], "hours": "02:00-04:00"}]})
    # Sunday 25 October 2026: 03:00 CEST becomes 02:00 CET; the window lasts from 02:00 CEST to 04:00 CET: 3 hours
    assert not windows.check(night, utc(2026, 10, 24, 23, 59)).allowed  # 01:59 CEST
    assert windows.check(night, utc(2026, 10, 25, 0, 0)).allowed  # 02:00 CEST
    assert windows.check(night, utc(2026, 10, 25, 2, 59)).allowed  # 03:59 CET
    after = windows.check(night, utc(2026, 10, 25, 3, 0))  # 04:00 CET
    assert not after.allowed
    assert after.next_allowed == datetime(2026, 11, 1, 2, 0, tzinfo=BERLIN)


def test_a_window_start_inside_the_spring_gap_begins_at_the_first_real_time() -> None:
    gap = ReleaseWindows.model_validate({"timezone": "Europe/Berlin",
                                        "allowed": [{"days": ["sun"], "hours": "02:30-05:00"}]})
    checked = windows.check(gap, utc(2026, 3, 28, 12, 0))  # Saturday
    assert checked.next_allowed is not None
    assert checked.next_allowed.astimezone(UTC) == utc(2026, 3, 29, 1, 30)  # 03:30 CEST: 02:30 does not exist


def test_a_freeze_blocks_inside_a_window_and_names_itself_and_the_next_time() -> None:
    frozen = office_hours(freezes=[{"name": "year-end", "from": "2026-12-21", "to": "2027-01-04",
                                    "reason": "no releases over the holidays"}])
    checked = windows.check(frozen, utc(2026, 12, 22, 10, 0))  # Tuesday, in hours, frozen
    assert not checked.allowed
    assert "freeze 'year-end' (2026-12-21 to 2027-01-04): no releases over the holidays" in checked.why
    # 4 January 2027 is a Monday and still frozen (inclusive): Tuesday 5 January 09:00 CET
    assert checked.next_allowed == datetime(2027, 1, 5, 9, 0, tzinfo=BERLIN)
    assert windows.check(frozen, utc(2026, 12, 17, 10, 0)).allowed  # Thursday before the freeze


def test_a_freeze_day_is_a_local_day() -> None:
    frozen = ReleaseWindows.model_validate({"timezone": "Europe/Berlin", "freezes": [
        {"name": "launch", "from": "2026-06-02", "to": "2026-06-02", "reason": "launch day"}]})
    assert not windows.check(frozen, utc(2026, 6, 1, 22, 30)).allowed  # 00:30 on 2 June in Berlin
    assert windows.check(frozen, utc(2026, 6, 1, 21, 30)).allowed  # 23:30 on 1 June
    assert windows.check(frozen, utc(2026, 6, 1, 22, 30)).next_allowed == datetime(2026, 6, 3, tzinfo=BERLIN)


@pytest.mark.parametrize(("data", "message"), [
    ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
    ({"allowed": [{"days": ["monday", "funday"]}]}, "expected days among mon"),
    ({"allowed": [{"hours": "9-17"}]}, "expected hours such as 09:00-17:00"),
    ({"allowed": [{"hours": "22:00-02:00"}]}, "the end must be after the start"),
    ({"freezes": [{"name": "x", "from": "2026-02-01", "to": "2026-01-01", "reason": "r"}]}, "is before from"),
    ({"freezes": [{"name": "x", "from": "2026-02-01", "to": "2026-02-02"}]}, "reason"),
])
def test_bad_windows_are_refused_with_what_to_write(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ReleaseWindows.model_validate(data)


def test_day_names_are_read_by_their_first_three_letters() -> None:
    parsed = ReleaseWindows.model_validate({"allowed": [{"days": ["Monday", "FRI"], "hours": "00:00-24:00"}]})
    assert parsed.allowed[0].days == ["mon", "fri"]
    assert windows.check(parsed, utc(2026, 3, 27, 23, 59)).allowed  # Friday, to midnight
    assert windows.check(parsed, utc(2026, 3, 28, 0, 0)).next_allowed == datetime(2026, 3, 30, tzinfo=UTC)
