"""What callyard's agent desktop (`/agent/`) asks besides the CTI: the signed-in agent with
its groups' screen-pop URLs, and its recent calls with their recordings. Each question is
answered for the agent of a CTI session token alone: its company's records of its own
extension, nothing of another agent or company."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from callyard.domain.calls import Direction
from callyard.domain.refusals import Denial
from callyard.errors import AccessDenied
from callyard.services.cdrs import CdrService, StoredCallRecord
from callyard.services.groups import GroupService
from callyard.services.recordings import RecordingService
from callyard.services.sessions.model import AgentSession
from callyard.services.sessions.service import AgentSessions

MAX_RECENT_CALLS = 100
ANSWERED = "answered"  # a recent call's outcome when it was answered


@dataclass(frozen=True)
class DesktopGroup:
    """A group the agent takes calls of, with its screen-pop URL ("" when none)."""

    sn: str
    name: str
    home: bool
    popup_url: str


@dataclass(frozen=True)
class DesktopAgent:
    """The signed-in agent as its desktop shows it."""

    company_code: int
    number: str
    name: str
    extension: str
    groups: tuple[DesktopGroup, ...]


@dataclass(frozen=True)
class RecentCall:
    """One of the agent's finished calls. `number` is the other party's; `outcome` is
    `answered`, else why it ended (an EndReason); `recording_url` "" when none is kept."""

    uuid: str
    started: datetime
    direction: Direction
    number: str
    duration: int
    talk_seconds: int
    outcome: str
    recording_url: str


class AgentDesktop:
    """The agent desktop's questions, each asked with the agent's CTI session token."""

    def __init__(
        self,
        sessions: AgentSessions,
        cdrs: CdrService,
        recordings: RecordingService,
        groups: GroupService,
    ) -> None:
        self._sessions = sessions
        self._cdrs = cdrs
        self._recordings = recordings
        self._groups = groups

    def signed_in(self, token: str) -> AgentSession:
        """The session of the token (the Login event's `token`); AccessDenied otherwise."""
        if not token:
            raise AccessDenied(Denial.TOKEN_INVALID, "an agent's session token is required")
        session = self._sessions.by_token(token)
        if session is None:
            raise AccessDenied(Denial.TOKEN_INVALID, "the token is no signed-in agent's")
        return session

    async def agent(self, session: AgentSession) -> DesktopAgent:
        """Who the session's agent is, and its groups with their screen-pop URLs."""
        urls = await self._groups.popup_urls(
            session.company_id, [group.group_id for group in session.groups]
        )
        groups = tuple(
            DesktopGroup(g.sn, g.name, g.home, urls.get(g.group_id, "")) for g in session.groups
        )
        return DesktopAgent(
            session.company_code, session.number, session.name, session.extension, groups
        )

    async def recent_calls(self, session: AgentSession, limit: int) -> list[RecentCall]:
        """The agent's latest calls (those its extension had last), newest first."""
        stored = await self._cdrs.recent_of_extension(session.company_id, session.extension, limit)
        return [self._recent(entry) for entry in stored]

    def _recent(self, entry: StoredCallRecord) -> RecentCall:
        record = entry.record
        direction = record.kind.direction
        kept = record.recordfilename and entry.recording_purged_at is None
        return RecentCall(
            uuid=record.uuid,
            started=record.starttime,
            direction=direction,
            # An inbound call's `disnumber` is who called; otherwise `destnumber` is who
            # the call went to.
            number=record.disnumber if direction is Direction.INBOUND else record.destnumber,
            duration=record.duration,
            talk_seconds=record.billsec,
            outcome=ANSWERED if record.answertime is not None else record.end_reason.value,
            recording_url=(
                self._recordings.lasting_link(record.companycode, record.recordfilename)
                if kept
                else ""
            ),
        )
