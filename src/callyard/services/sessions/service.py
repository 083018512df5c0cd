"""Agents' sessions: what an agent (or its supervisor) asks, carried out on the one state
machine of `domain.agent_sessions`, kept in the store where it must outlive a restart,
and told as notices on the bus.

Every request is checked against the session's status first: one the state machine
does not allow is refused (`Refusal.AGENT_WRONG_STATE`) and changes nothing. What the
agent chose (ready, or not and why) is written before the request is answered; the
states a call moves it through live in memory, where the switch's events move them
(`sessions.calls.CallFollower`). A session stays while a socket is open for it, its
phone is registered, or it was heard from within the grace period; then it ends.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import replace

from callyard.bus import EventBus
from callyard.clock import Clock
from callyard.domain.agent_sessions import LoginType, Status, Step, after, in_call
from callyard.domain.agents import AgentDevice, AgentRole
from callyard.domain.calls import Direction
from callyard.domain.mid_call import Part
from callyard.domain.refusals import Refusal
from callyard.errors import BusinessError
from callyard.security import new_token, token_digest
from callyard.services.agent_calls import AgentCallService
from callyard.services.agents import AgentBoard
from callyard.services.auth import AuthService, Caller
from callyard.services.directory import Directory
from callyard.services.sessions import store
from callyard.services.sessions.model import (
    MISSED_OFFER,
    PHONE_LOST,
    SIGNED_IN_TYPE,
    AgentNotice,
    AgentSession,
    GroupRef,
    Notice,
    SessionCall,
    SessionView,
    SignInFacts,
)
from callyard.store.database import Database
from callyard.switch.port import SwitchPort

log = logging.getLogger("callyard.sessions")

SWEEP_SECONDS = 1.0
WRONG_PASSWORD = "wrong agent number or password"  # noqa: S105 - a message, no secret


def _epoch_ms(clock: Clock) -> int:
    return round(clock.now().timestamp() * 1000)


class AgentSessions:
    """Every signed-in agent of every company, by agent, token and extension."""

    def __init__(
        self,
        db: Database,
        directory: Directory,
        clock: Clock,
        board: AgentBoard,
        bus: EventBus,
        calls: AgentCallService,
        switch: SwitchPort | None,
        auth: AuthService,
        *,
        grace_seconds: float,
        sip_domain: str,
        sip_websocket: str | None = None,
    ) -> None:
        self._db = db
        self._directory = directory
        self._switch = switch
        self._auth = auth
        self._clock = clock
        self._board = board
        self._bus = bus
        self._calls = calls
        self._grace = grace_seconds
        self._sip_domain = sip_domain
        self._sip_websocket = sip_websocket
        self._sessions: dict[int, AgentSession] = {}  # by agent id
        self._by_token: dict[str, int] = {}
        self._by_extension: dict[str, int] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._persisting: dict[int, asyncio.Task[None]] = {}
        self._placed: dict[str, AgentSession] = {}  # calls placed by request, not yet seen
        self._offers: dict[str, AgentSession] = {}  # offers to agents' mobiles, not yet seen
        # Agents called into calls in progress (a transfer, a consult, a supervisor), by
        # call and leg, not yet seen ringing.
        self._expected: dict[tuple[str, str], tuple[AgentSession, Part]] = {}

    # lookups

    def by_agent(self, agent_id: int) -> AgentSession | None:
        return self._sessions.get(agent_id)

    def by_token(self, token: str) -> AgentSession | None:
        agent_id = self._by_token.get(token_digest(token))
        return None if agent_id is None else self._sessions.get(agent_id)

    def by_number(self, company_id: int, number: str) -> AgentSession | None:
        """The session of the company's agent with work number `number`."""
        return next(
            (
                s
                for s in self._sessions.values()
                if s.company_id == company_id and s.number == number
            ),
            None,
        )

    def by_code(self, company_code: int, number: str) -> AgentSession | None:
        """The session of agent `number` of the company with code `company_code`."""
        return next(
            (
                s
                for s in self._sessions.values()
                if s.company_code == company_code and s.number == number
            ),
            None,
        )

    def by_extension(self, extension: str) -> AgentSession | None:
        agent_id = self._by_extension.get(extension)
        return None if agent_id is None else self._sessions.get(agent_id)

    def all(self) -> list[AgentSession]:
        """Every session."""
        return list(self._sessions.values())

    def of_company(self, company_id: int) -> list[AgentSession]:
        return [s for s in self._sessions.values() if s.company_id == company_id]

    def view(self, session: AgentSession) -> SessionView:
        call = session.call
        peer = ""
        if call is not None:
            peer = call.caller if call.direction is Direction.INBOUND else call.called
        return SessionView(
            key=session.token_hash,
            agent_id=session.agent_id,
            agent_sn=session.agent_sn,
            company_id=session.company_id,
            company_code=session.company_code,
            number=session.number,
            name=session.name,
            extension=session.extension,
            role=session.role,
            login_type=session.login_type,
            status=session.status,
            busy_type=session.busy_type,
            since_ms=session.since_ms,
            signed_in_ms=session.signed_in_ms,
            groups=session.groups,
            registered=self._board.registered(session.extension),
            peer=peer,
            direction=call.direction if call is not None else None,
        )

    # start

    async def load(self) -> None:
        """Take up the sessions the store kept (after a restart): no call survived, so
        each is where its agent last chose to be, and heard from now."""
        async with self._db.transaction() as session:
            kept = await store.stored_sessions(session)
        now, now_ms = self._clock.monotonic(), _epoch_ms(self._clock)
        for stored in kept:
            account = stored.account
            status = Status.IDLE if stored.ready else Status.BUSY
            if not stored.ready and stored.busy_type == SIGNED_IN_TYPE:
                status = Status.SIGNED_IN
            self._add(
                self._new(account, stored.login_type, stored.token_hash, now, now_ms),
                status=status,
                ready=stored.ready,
                busy_type=stored.busy_type,
                signed_in_ms=round(stored.signed_in_at.timestamp() * 1000),
            )

    # requests

    async def sign_in(
        self,
        company_id: int,
        number: str,
        password: str,
        login_type: LoginType,
        sequence: int,
        *,
        client_ip: str = "",
        joining: Callable[[int], None] | None = None,
    ) -> tuple[AgentSession, str]:
        """Sign the company's agent in on `login_type`; a session it had elsewhere is
        ended (kicked). The session and its token."""
        async with self._db.transaction() as session:
            account = await store.account(session, company_id, number)
        if account is None:
            await self._auth.failed_unknown(client_ip)
            raise BusinessError(Refusal.WRONG_CREDENTIALS, WRONG_PASSWORD)
        key = f"agent {company_id}/{number}"
        await self._auth.verify(key, password, account.password_hash, client_ip, WRONG_PASSWORD)
        if not account.enabled:
            raise BusinessError(Refusal.AGENT_DISABLED, f"Agent {number} is disabled")
        async with self._lock(account.agent_id):
            earlier = self._sessions.get(account.agent_id)
            if earlier is not None and in_call(earlier.status):
                raise BusinessError(
                    Refusal.AGENT_IN_CALL, f"Agent {number} is in a call on its other session"
                )
            token = new_token()
            async with self._directory.changing() as session:
                await store.save(
                    session, account, login_type, token_digest(token), self._clock.now()
                )
            if earlier is not None:
                self._drop(earlier)
                self.publish(Notice.KICKED, earlier, sequence)
            now = self._clock.monotonic()
            signed_in = self._new(
                account, login_type, token_digest(token), now, _epoch_ms(self._clock)
            )
            signed_in.token = token
            self._add(signed_in, status=Status.SIGNED_IN, ready=False, busy_type=SIGNED_IN_TYPE)
            if joining is not None:
                joining(signed_in.agent_id)
            self.publish(Notice.SIGNED_IN, signed_in, sequence, detail=self._facts(signed_in))
            return signed_in, token

    def resume(self, token: str, sequence: int) -> AgentSession:
        """Take a session up again with its token (a desktop that reconnected)."""
        found = self.by_token(token)
        if found is None:
            raise BusinessError(Refusal.AGENT_SIGNED_OUT, "the session has ended: sign in again")
        found.token = token
        self.take_up(found, sequence)
        return found

    def take_up(self, agent: AgentSession, sequence: int) -> None:
        """The agent's desktop is back: the session goes on (Reconnect)."""
        self._require_current(agent)
        agent.last_seen = self._clock.monotonic()
        self.publish(Notice.RESUMED, agent, sequence, detail=self._facts(agent))

    async def sign_out(self, agent: AgentSession, sequence: int) -> None:
        """End the agent's session; refused while it is in a call."""
        async with self._lock(agent.agent_id):
            self._require_current(agent)
            self._require(agent, Step.SIGN_OUT)
            await self._end(agent, sequence)

    async def set_ready(self, agent: AgentSession, sequence: int) -> None:
        """The agent is ready: queues may offer it calls."""
        await self._choose(agent, Step.READY, True, "", sequence)

    async def set_not_ready(self, agent: AgentSession, busy_type: str, sequence: int) -> None:
        """The agent is not ready, for `busy_type`."""
        await self._choose(agent, Step.NOT_READY, False, busy_type, sequence)

    def heard_from(self, agent: AgentSession) -> None:
        """A request, heartbeat or socket message of the agent's: its session is alive."""
        agent.last_seen = self._clock.monotonic()

    def supervise(self, supervisor: AgentSession, target_number: str) -> AgentSession:
        """The session of the agent a supervisor acts on (same company only)."""
        if supervisor.role is not AgentRole.SUPERVISOR:
            raise BusinessError(
                Refusal.NOT_SUPERVISOR, f"Agent {supervisor.number} is not a supervisor"
            )
        target = self.by_number(supervisor.company_id, target_number)
        if target is None:
            raise BusinessError(Refusal.AGENT_SIGNED_OUT, f"Agent {target_number} is not signed in")
        return target

    def listing(self, company_id: int) -> tuple[SessionView, ...]:
        """Every signed-in agent of the company, by work number."""
        return tuple(
            sorted((self.view(s) for s in self.of_company(company_id)), key=lambda v: v.number)
        )

    def listing_all(self) -> list[SessionView]:
        """Every signed-in agent of every company."""
        return [self.view(s) for s in self._sessions.values()]

    def idle_in(self, company_id: int, group_sn: str) -> tuple[SessionView, ...]:
        """The company's ready agents free for a call in group `group_sn` ("" any)."""
        return tuple(
            v
            for v in self.listing(company_id)
            if v.status is Status.IDLE and (not group_sn or any(g.sn == group_sn for g in v.groups))
        )

    async def place_call(
        self,
        agent: AgentSession,
        called: str,
        shown: str | None,
        device: AgentDevice,
        sequence: int,
        user_data: str = "",
    ) -> str:
        """Call `called` for the agent: its phone (or mobile) first, then the customer."""
        async with self._lock(agent.agent_id):
            self._require_current(agent)
            self._require(agent, Step.RING)
            if not agent.agent_makes_calls:
                raise BusinessError(
                    Refusal.AGENT_NO_CALLS, f"Agent {agent.number}'s group does not place calls"
                )
            caller = Caller(agent.company_id, agent.company_code, "")
            call_id = await self._calls.call(caller, agent.number, called, shown, device, user_data)
            now_ms = _epoch_ms(self._clock)
            agent.call = SessionCall(
                call_id,
                "",
                Direction.OUTBOUND,
                shown or "",
                called,
                sequence,
                user_data,
                begin_ms=now_ms,
            )
            self._placed[call_id] = agent
            self.publish(Notice.CALL_PLACED, agent, sequence)
            self.step(agent, Step.RING, sequence)
            return call_id

    def cancel_call(self, agent: AgentSession, sequence: int) -> None:
        """Hang up the agent's own call before the customer answered."""
        call = agent.call
        if call is None or call.direction is not Direction.OUTBOUND or call.talked:
            raise BusinessError(
                Refusal.AGENT_NO_CALL, f"Agent {agent.number} has no call to cancel"
            )
        self.publish(Notice.CALL_CANCELLED, agent, call.sequence or sequence)
        if self._switch is not None:
            self._switch.hangup(call.call_id)

    # what calls do (the call follower)

    def step(self, agent: AgentSession, step: Step, sequence: int = 0) -> bool:
        """Move the session by `step`; False (nothing changed) when its status has no
        such transition."""
        status = after(agent.status, step, agent.ready)
        if status is None:
            log.info(
                "session step refused",
                extra={"agent": agent.number, "status": agent.status.value, "step": step.value},
            )
            return False
        previous = agent.status
        self._set_status(agent, status)
        if step is Step.MISS:
            self._choose_now(agent, False, MISSED_OFFER)
        if previous is Status.WRAP_UP and status is not Status.WRAP_UP:
            self._end_wrap_up(agent)
        if status is Status.WRAP_UP:
            self._start_wrap_up(agent)
        return True

    def let_go(self, agent: AgentSession, step: Step) -> None:
        """The agent's part in a call ended before it talked (`step`: released, or a
        missed offer): told whether it is ready again."""
        if self.step(agent, step, 0):
            kind = Notice.READY if agent.status is Status.IDLE else Notice.NOT_READY
            self.publish(kind, agent, 0)

    def placed(self, call_id: str) -> AgentSession | None:
        """The agent a request placed this call for (once: the caller follows it then)."""
        return self._placed.pop(call_id, None)

    def offering(self, call_id: str, agent: AgentSession) -> None:
        """A call is offered to the agent on a line that is not its extension (its
        mobile): the call's next agent leg is the agent's."""
        self._offers[call_id] = agent

    def offered(self, call_id: str) -> AgentSession | None:
        """The agent a call is being offered to on its mobile (once)."""
        return self._offers.pop(call_id, None)

    def expect(self, call_id: str, leg: str, agent: AgentSession, part: Part) -> None:
        """Leg `leg` of a call in progress is about to ring the agent, who takes `part`."""
        self._expected[(call_id, leg)] = (agent, part)

    def expected(self, call_id: str, leg: str) -> tuple[AgentSession, Part] | None:
        """The agent a call's leg was to ring, and its part (once)."""
        return self._expected.pop((call_id, leg), None)

    def phone_lost(self, agent: AgentSession) -> None:
        """Its phone's registration ended: a ready agent is made not ready until it is back."""
        self.publish(Notice.PHONE_LOST, agent, 0)
        if agent.status is Status.IDLE and self.step(agent, Step.NOT_READY):
            self._choose_now(agent, False, PHONE_LOST)
            self.publish(Notice.NOT_READY, agent, 0)

    def phone_back(self, agent: AgentSession) -> None:
        """Its phone registered again: made ready again if only the loss had stopped it."""
        lost = agent.status is Status.BUSY and agent.busy_type == PHONE_LOST
        if lost and self.step(agent, Step.READY):
            self._choose_now(agent, True, "")
            self.publish(Notice.READY, agent, 0)

    # keeping sessions alive

    def socket_opened(self, agent: AgentSession) -> None:
        agent.sockets += 1
        agent.last_seen = self._clock.monotonic()

    def socket_closed(self, agent: AgentSession) -> None:
        agent.sockets = max(0, agent.sockets - 1)
        agent.last_seen = self._clock.monotonic()

    async def sweep(self) -> None:
        """End the sessions nothing has kept alive for the grace period."""
        now = self._clock.monotonic()
        for agent in list(self._sessions.values()):
            if agent.sockets or in_call(agent.status) or now - agent.last_seen < self._grace:
                continue
            if agent.on_phone and self._board.registered(agent.extension):
                continue
            async with self._lock(agent.agent_id):
                if self._sessions.get(agent.agent_id) is agent and not in_call(agent.status):
                    log.info("session lost", extra={"agent": agent.number})
                    await self._end(agent, 0)

    async def run(self) -> None:
        """Sweep every second until cancelled."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await self.sweep()
            except Exception:
                log.exception("sweeping agent sessions failed")

    async def flush(self) -> None:
        """Wait for the choices being written."""
        while self._persisting:
            await asyncio.gather(*self._persisting.values(), return_exceptions=True)

    # internals

    def _new(
        self,
        account: store.AgentAccount,
        login_type: LoginType,
        token_hash: str,
        now: float,
        now_ms: int,
    ) -> AgentSession:
        return AgentSession(
            agent_id=account.agent_id,
            agent_sn=account.agent_sn,
            company_id=account.company_id,
            company_code=account.company_code,
            number=account.number,
            name=account.name,
            extension=account.extension,
            extension_id=account.extension_id,
            mobile=account.mobile,
            sip_password=account.sip_password,
            role=account.role,
            login_type=login_type,
            token_hash=token_hash,
            token="",
            status=Status.SIGNED_OUT,
            ready=False,
            busy_type=SIGNED_IN_TYPE,
            since=now,
            since_ms=now_ms,
            signed_in_ms=now_ms,
            groups=account.groups,
            auto_idle_seconds=account.auto_idle_seconds,
            agent_makes_calls=account.makes_calls,
            last_seen=now,
        )

    def _add(
        self,
        agent: AgentSession,
        *,
        status: Status,
        ready: bool,
        busy_type: str,
        signed_in_ms: int | None = None,
    ) -> None:
        agent.status, agent.ready, agent.busy_type = status, ready, busy_type
        if signed_in_ms is not None:
            agent.signed_in_ms = signed_in_ms
        self._sessions[agent.agent_id] = agent
        self._by_token[agent.token_hash] = agent.agent_id
        self._by_extension[agent.extension] = agent.agent_id

    def _drop(self, agent: AgentSession) -> None:
        if self._sessions.get(agent.agent_id) is agent:
            del self._sessions[agent.agent_id]
        self._by_token.pop(agent.token_hash, None)
        if self._by_extension.get(agent.extension) == agent.agent_id:
            del self._by_extension[agent.extension]
        self._end_wrap_up(agent)
        agent.status = Status.SIGNED_OUT

    async def _end(self, agent: AgentSession, sequence: int) -> None:
        call = agent.call
        ringing = call is not None and call.direction is Direction.OUTBOUND and not call.talked
        if call is not None and ringing and self._switch is not None:
            # Its own call, still ringing its phone: nobody is left to take it.
            self._switch.hangup(call.call_id)
        async with self._directory.changing() as session:
            await store.remove(session, agent.agent_id, agent.extension_id, self._clock.now())
        self._drop(agent)
        self._stamp(agent)
        self.publish(Notice.SIGNED_OUT, agent, sequence)

    async def _choose(
        self, agent: AgentSession, step: Step, ready: bool, busy_type: str, sequence: int
    ) -> None:
        async with self._lock(agent.agent_id):
            self._require_current(agent)
            self._require(agent, step)
            async with self._directory.changing() as session:
                await store.set_ready(
                    session,
                    agent.agent_id,
                    agent.extension_id,
                    ready,
                    busy_type,
                    self._clock.now(),
                )
            agent.ready, agent.busy_type = ready, busy_type
            self.step(agent, step, sequence)
            self.publish(Notice.READY if ready else Notice.NOT_READY, agent, sequence)

    def _choose_now(self, agent: AgentSession, ready: bool, busy_type: str) -> None:
        """A choice callyard makes for the agent (a missed offer, a lost phone), written
        in the background: the latest choice is what gets written."""
        agent.ready, agent.busy_type = ready, busy_type
        if agent.agent_id in self._persisting:
            return  # the task running writes the latest values when it gets to them

        async def write() -> None:
            try:
                await asyncio.sleep(0)
                async with self._lock(agent.agent_id):
                    if self._sessions.get(agent.agent_id) is not agent:
                        return
                    async with self._directory.changing() as session:
                        await store.set_ready(
                            session,
                            agent.agent_id,
                            agent.extension_id,
                            agent.ready,
                            agent.busy_type,
                            self._clock.now(),
                        )
            except Exception:
                log.exception("keeping an agent's state failed", extra={"agent": agent.number})
            finally:
                self._persisting.pop(agent.agent_id, None)

        self._persisting[agent.agent_id] = asyncio.get_running_loop().create_task(write())

    def _set_status(self, agent: AgentSession, status: Status) -> None:
        agent.status = status
        self._stamp(agent)

    def _stamp(self, agent: AgentSession) -> None:
        agent.since = self._clock.monotonic()
        agent.since_ms = _epoch_ms(self._clock)

    def _start_wrap_up(self, agent: AgentSession) -> None:
        seconds = agent.auto_idle_seconds
        now = self._clock.monotonic()
        self._board.wrap_up(agent.extension, now, math.inf if seconds is None else seconds)
        if seconds is None:
            return
        loop = asyncio.get_running_loop()

        def resume() -> None:
            agent.wrap_up_timer = None
            if self._sessions.get(agent.agent_id) is agent and self.step(agent, Step.RESUME):
                self.publish(Notice.READY if agent.ready else Notice.NOT_READY, agent, 0)

        agent.wrap_up_timer = loop.call_later(seconds, resume)

    def _end_wrap_up(self, agent: AgentSession) -> None:
        if agent.wrap_up_timer is not None:
            agent.wrap_up_timer.cancel()
        agent.wrap_up_timer = None
        self._board.end_wrap_up(agent.extension, self._clock.monotonic())

    def _require(self, agent: AgentSession, step: Step) -> None:
        if after(agent.status, step, agent.ready) is None:
            raise BusinessError(
                Refusal.AGENT_WRONG_STATE,
                f"Agent {agent.number} cannot {step.value.replace('_', ' ')} "
                f"while {agent.status.value.replace('_', ' ')}",
            )

    def _require_current(self, agent: AgentSession) -> None:
        if self._sessions.get(agent.agent_id) is not agent:
            raise BusinessError(Refusal.AGENT_SIGNED_OUT, f"Agent {agent.number} is not signed in")

    def _lock(self, agent_id: int) -> asyncio.Lock:
        return self._locks.setdefault(agent_id, asyncio.Lock())

    def _facts(self, agent: AgentSession) -> SignInFacts:
        return SignInFacts(
            agent.token,
            self._sip_domain,
            agent.sip_password,
            agent.agent_makes_calls,
            self._sip_websocket,
        )

    def publish(
        self,
        kind: Notice,
        agent: AgentSession,
        sequence: int,
        detail: object = None,
        *,
        call: SessionCall | None = None,
    ) -> None:
        """Publish a notice of the agent's session (with `call` instead of its current
        one, for a call that just ended)."""
        call = call or agent.call
        call = replace(call) if call is not None else None
        self._bus.publish(
            AgentNotice(kind, self.view(agent), sequence, _epoch_ms(self._clock), call, detail)
        )


def groups_of(views: Iterable[SessionView]) -> tuple[GroupRef, ...]:
    """Every group the agents take calls of, once each, by id."""
    seen: dict[int, GroupRef] = {}
    for view in views:
        for group in view.groups:
            seen.setdefault(group.group_id, replace(group, home=False))
    return tuple(seen[k] for k in sorted(seen))
