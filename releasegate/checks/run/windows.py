"""Release windows: is a release allowed now, and if not, when is the next allowed time.

Pure functions of the runbook's ``release.windows`` (``runbook.model.ReleaseWindows``) and an
injected "now" (an aware datetime). Days and hours are read in the windows' time zone (zoneinfo),
so a window "09:00-17:00" stays 09:00-17:00 local across a daylight-saving change; a freeze covers
whole local days, ``from`` to ``to`` inclusive, and wins over every window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from releasegate.checks.runbook.model import ReleaseWindows

SEARCH_DAYS = 400  # how far ahead the next allowed time is looked for (a year of freezes and a bit)
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class WindowCheck:
    allowed: bool
    why: str  # one line: inside which window, or outside / which freeze
    next_allowed: datetime | None = None  # in the windows' time zone; None when allowed or never within the search

    def describe(self) -> str:
        if self.allowed:
            return self.why
        when = (f"next allowed: {self.next_allowed.isoformat(timespec='minutes')}" if self.next_allowed
                else f"no allowed time within {SEARCH_DAYS} days")
        return f"{self.why}; {when}"


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    """``day`` at ``at`` local time, in UTC (compared there: aware datetimes of one zone compare by wall clock,
    which is wrong in the hour a fall-back repeats). A time in a spring-forward gap counts with the offset
    before the change, as zoneinfo reads it (02:30 on the day clocks go from 02:00 to 03:00 is 03:30)."""
    return datetime.combine(day, at).replace(tzinfo=zone).astimezone(UTC)


def _end(day: date, at: time | None, zone: ZoneInfo) -> datetime:
    return _local(day + timedelta(days=1), time(0), zone) if at is None else _local(day, at, zone)


def freeze_on(windows: ReleaseWindows, day: date) -> str | None:
    for freeze in windows.freezes:
        if freeze.start <= day <= freeze.end:
            return f"freeze {freeze.name!r} ({freeze.start} to {freeze.end}): {freeze.reason}"
    return None


def check(windows: ReleaseWindows, now: datetime) -> WindowCheck:
    """Whether a release may start at ``now`` (an aware datetime), and when the next allowed time is."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    zone = ZoneInfo(windows.timezone)
    local = now.astimezone(zone)
    moment = now.astimezone(UTC)
    frozen = freeze_on(windows, local.date())
    if frozen is None:
        if not windows.allowed:
            return WindowCheck(True, f"no release window limits the day ({windows.timezone}); no freeze today")
        for rule in windows.allowed:
            if DAY_NAMES[local.weekday()] in rule.days:
                start, end = _local(local.date(), rule.start, zone), _end(local.date(), rule.end, zone)
                if start <= moment < end:
                    return WindowCheck(True, f"inside the release window {rule.describe()} ({windows.timezone})")
    why = (f"outside the release windows {', '.join(r.describe() for r in windows.allowed)} ({windows.timezone})"
           if frozen is None else f"in the {frozen}")
    return WindowCheck(False, f"{why}; it is {local.isoformat(timespec='minutes')}", next_allowed(windows, local))


def next_allowed(windows: ReleaseWindows, after: datetime) -> datetime | None:
    """The first allowed time at or after ``after``, in the windows' time zone."""
    zone = ZoneInfo(windows.timezone)
    local = after.astimezone(zone)
    moment = after.astimezone(UTC)
    for offset in range(SEARCH_DAYS):
        day = local.date() + timedelta(days=offset)
        if freeze_on(windows, day) is not None:
            continue
        if not windows.allowed:
            return max(moment, _local(day, time(0), zone)).astimezone(zone)
        candidates = []
        for rule in windows.allowed:
            if DAY_NAMES[day.weekday()] not in rule.days:
                continue
            start, end = _local(day, rule.start, zone), _end(day, rule.end, zone)
            begin = max(start, moment)
            if begin < end:
                candidates.append(begin)
        if candidates:
            return min(candidates).astimezone(zone)
    return None
