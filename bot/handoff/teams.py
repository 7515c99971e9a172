"""Teams of the agent desk, as data: members, queue, working hours and ticket due time.

Why a file and not code: which agents answer technical problems, and when, changes with
the rota, not with a release. The gateway and the console read the same `Teams`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from bot.handoff.calendar import WorkingCalendar, _time

TEAM_ID = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")

__all__ = ["Team", "Teams", "TeamsError", "load_teams"]


class TeamsError(ValueError):
    """The teams file is malformed (raised at start-up, never while serving)."""


@dataclass(frozen=True)
class Team:
    team_id: str
    name: str
    members: frozenset[str] | None  # None: every agent account
    supervisors: frozenset[str]
    calendar: WorkingCalendar
    ticket_working_days: int = 2

    def has(self, agent_id: str) -> bool:
        return self.members is None or agent_id in self.members


@dataclass(frozen=True)
class Teams:
    teams: Mapping[str, Team]
    default: str

    def __post_init__(self) -> None:
        if self.default not in self.teams:
            raise TeamsError(f"the default team {self.default!r} is not configured")

    def __iter__(self) -> Any:
        return iter(self.teams.values())

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self.teams)

    def get(self, team_id: str | None) -> Team:
        """The team, or the default one for an unknown or empty id (records made before teams)."""
        return self.teams.get(team_id or "", self.teams[self.default])

    def known(self, team_id: str) -> bool:
        return team_id in self.teams

    def of_agent(self, agent_id: str) -> tuple[str, ...]:
        """The teams an agent serves (an agent may be in several)."""
        return tuple(t.team_id for t in self.teams.values() if t.has(agent_id))

    def supervised_by(self, login: str) -> tuple[str, ...]:
        return tuple(t.team_id for t in self.teams.values() if login in t.supervisors)

    def name(self, team_id: str | None) -> str:
        return self.get(team_id).name

    def by_name(self, name: str) -> Team | None:
        return next((t for t in self.teams.values() if name in (t.name, t.team_id)), None)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], base: WorkingCalendar) -> Teams:
        raw = data.get("teams")
        if not isinstance(raw, Mapping) or not raw:
            raise TeamsError("the teams file needs a non-empty 'teams' mapping")
        teams = {str(k): _team(str(k), v, base) for k, v in raw.items()}
        return cls(teams, str(data.get("default") or next(iter(teams))))


def _team(team_id: str, data: Any, base: WorkingCalendar) -> Team:
    if not TEAM_ID.match(team_id):
        raise TeamsError(f"team id {team_id!r}: lower-case letters, digits, '-' or '_' (it names a Redis key)")
    if not isinstance(data, Mapping):
        raise TeamsError(f"team {team_id}: expected a mapping")
    members = data.get("members", "all")
    days = data.get("ticket_working_days", 2)
    if not isinstance(days, int) or not 1 <= days <= 30:
        raise TeamsError(f"team {team_id}: ticket_working_days must be a whole number 1-30")
    return Team(team_id=team_id, name=str(data.get("name") or team_id),
                members=None if members == "all" else _names(team_id, "members", members),
                supervisors=_names(team_id, "supervisors", data.get("supervisors") or []),
                calendar=_hours(team_id, data.get("hours"), base), ticket_working_days=days)


def _names(team_id: str, what: str, value: Any) -> frozenset[str]:
    if not isinstance(value, Iterable) or isinstance(value, str | bytes | Mapping):
        raise TeamsError(f"team {team_id}: {what} must be a list of account names (or 'all')")
    return frozenset(str(v) for v in value)


def _hours(team_id: str, hours: Any, base: WorkingCalendar) -> WorkingCalendar:
    """The desk's calendar (holidays, 调休) with the team's own opening hours, if any."""
    if not hours:
        return base
    if not isinstance(hours, Mapping):
        raise TeamsError(f"team {team_id}: hours must be a mapping (opens, closes, weekdays)")
    try:
        changes: dict[str, Any] = {}
        if "opens" in hours:
            changes["opens"] = _time(hours["opens"])
        if "closes" in hours:
            changes["closes"] = _time(hours["closes"])
        if hours.get("weekdays"):
            changes["weekdays"] = frozenset(int(d) - 1 for d in hours["weekdays"])
        return dataclasses.replace(base, **changes)
    except (TypeError, ValueError) as exc:
        raise TeamsError(f"team {team_id}: bad hours ({exc})") from exc


def load_teams(path: str | Path | None, base: WorkingCalendar) -> Teams:
    """The given YAML file, or the bundled `bot/handoff/teams.yml`."""
    if path:
        text = Path(path).read_text(encoding="utf-8")
    else:
        text = resources.files("bot.handoff").joinpath("teams.yml").read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise TeamsError(f"the teams file is not valid YAML: {exc}") from exc
    if not isinstance(data, Mapping):
        raise TeamsError("the teams file must be a mapping")
    return Teams.from_mapping(data, base)
