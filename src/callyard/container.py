"""The composition root: builds every service once and passes dependencies in."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from callyard.api.dialects.sip_api.callbacks import SipApiCallbacks
from callyard.api.dialects.vcall.agent_events import VcallAgentEvents
from callyard.api.dialects.vcall.pushes import KINDS as PUSH_KINDS
from callyard.api.dialects.vcall.pushes import VcallPushes
from callyard.bus import EventBus
from callyard.clock import Clock, SystemClock
from callyard.config import Settings
from callyard.dialer.runtime import AbandonMessage, Dialer
from callyard.metrics import Metrics
from callyard.sealing import SecretBox
from callyard.services.agent_accounts import AgentAccounts
from callyard.services.agent_calls import AgentCallService
from callyard.services.agent_reach import AgentReach
from callyard.services.agents import AgentBoard
from callyard.services.auth import AuthService, LoginLimits
from callyard.services.call_journal import CallJournal
from callyard.services.calls import CallService
from callyard.services.cdrs import CdrService, StoredCallRecord
from callyard.services.companies import CompanyService
from callyard.services.credentials import CredentialService
from callyard.services.directory import Directory
from callyard.services.extensions import ExtensionService
from callyard.services.groups import GroupService
from callyard.services.numbers import NumberService
from callyard.services.otp import VoiceCodeLimits, VoiceCodeService
from callyard.services.outbound import OutboundLines
from callyard.services.pbx_trunks import PbxTrunkService
from callyard.services.presence import NoSwitch, Presence
from callyard.services.queues.acd import Distributor
from callyard.services.queues.settings import QueueSettingsService
from callyard.services.queues.stats import QueueStats
from callyard.services.recordings import RecordingService
from callyard.services.routing_book import RoutingBook
from callyard.services.sessions.calls import CallFollower
from callyard.services.sessions.mid_call import MidCalls
from callyard.services.sessions.service import AgentSessions
from callyard.services.tasks import TaskService
from callyard.services.trunks import TrunkService
from callyard.services.voice_calls import VoiceCallService
from callyard.services.wallboard import Wallboard, nobody_waiting
from callyard.store import migrate
from callyard.store.database import Database
from callyard.switch.registrar import SipLimits
from callyard.switch.relay import parse_port_range
from callyard.switch.switch import Switch
from callyard.timefmt import TimeFormat
from callyard.tts.espeak import EspeakSynthesizer
from callyard.tts.music import HOLD_MUSIC, hold_music
from callyard.webhooks.delivery import DeliveryConfig, DeliveryWorker
from callyard.webhooks.outbox import Outbox
from callyard.webhooks.settings import WebhookSettingsService


@dataclass
class Container:
    """Everything a running callyard holds."""

    settings: Settings
    clock: Clock
    db: Database
    metrics: Metrics
    presence: Presence
    directory: Directory
    bus: EventBus
    switch: Switch | None
    agents: AgentBoard
    agent_accounts: AgentAccounts
    agent_calls: AgentCallService
    sessions: AgentSessions
    queues: QueueSettingsService
    distributor: Distributor | None
    mid_calls: MidCalls | None
    companies: CompanyService
    auth: AuthService
    extensions: ExtensionService
    groups: GroupService
    trunks: TrunkService
    pbx_trunks: PbxTrunkService
    numbers: NumberService
    cdrs: CdrService
    recordings: RecordingService
    calls: CallService
    voice_calls: VoiceCallService
    dialer: Dialer | None
    tasks: TaskService
    webhooks: WebhookSettingsService
    outbox: Outbox
    delivery: DeliveryWorker
    credentials: CredentialService
    wallboard: Wallboard
    voice_codes: VoiceCodeService = field(init=False)

    def __post_init__(self) -> None:
        self.voice_codes = VoiceCodeService(
            self.db, self.clock, self.voice_calls, VoiceCodeLimits.from_settings(self.settings)
        )

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        presence: Presence | None = None,
        upgrade_schema: bool = True,
        with_switch: bool = False,
    ) -> Container:
        """Connect to the store (migrating it to the current schema) and build the services."""
        clock = clock or SystemClock()
        presence = presence or NoSwitch()
        if settings.db_url is None:
            settings.ensure_data_dir()
        db = Database(settings.database_url)
        try:
            if upgrade_schema:
                await migrate.upgrade(db)
        except BaseException:
            await db.close()
            raise
        directory = Directory(db, clock)
        bus = EventBus()
        trunks = TrunkService(db, clock, directory)
        numbers = NumberService(db, clock, directory)
        webhooks = WebhookSettingsService(db, clock, push_kinds=PUSH_KINDS)
        times = TimeFormat(settings.timezone)

        def recording_link(company_code: int, filename: str) -> str:
            return recordings.lasting_link(company_code, filename)

        outbox = Outbox(
            db,
            clock,
            webhooks,
            SipApiCallbacks(times),
            pushes=[VcallPushes(times, recording_link)],
            notices=VcallAgentEvents(),
        )
        bus.subscribe(outbox.on_bus_event)
        tasks = TaskService(db, clock, numbers, settings.timezone)

        async def on_record(session: AsyncSession, stored: StoredCallRecord) -> None:
            # In the record's own transaction: its webhook event, and the end of the task
            # attempt it was (a predictive call).
            await outbox.record_hook(session, stored)
            await tasks.record_hook(session, stored)

        cdrs = CdrService(db, on_record)
        recordings = RecordingService(
            settings.data_dir,
            settings.resolve_recording_secret,
            clock,
            settings.recording_url,
            cdrs,
            retention=timedelta(days=settings.recording_retention_days),
        )
        metrics = Metrics()
        switch = None
        if with_switch:
            switch = Switch(
                RoutingBook(db, directory, on_revision=metrics.routing_revision.set),
                settings.sip_address,
                settings.advertise_ip,
                parse_port_range(settings.rtp_ports),
                settings.data_dir / "captures",
                settings.ring_timeout_seconds,
                settings.agent_ring_timeout_seconds,
                SipLimits(
                    settings.sip_failures_per_address,
                    settings.sip_failures_per_extension,
                    settings.sip_block_seconds,
                ),
                hold_music=settings.data_dir / "prompts" / HOLD_MUSIC,
                websocket=settings.websocket,
            )
            presence = switch
            # Rendered meanwhile (once per data directory), for the switch to find.
            asyncio.get_running_loop().run_in_executor(
                None, hold_music, settings.data_dir / "prompts"
            )
        agents = AgentBoard(switch, directory)
        credentials = CredentialService(
            db, clock, lambda: SecretBox(settings.resolve_credentials_key())
        )
        groups = GroupService(db, clock, agents, directory)
        calls = CallService(
            switch,
            directory,
            trunks,
            numbers,
            cdrs,
            recordings,
            clock,
            bus,
            TimeFormat(settings.timezone),
            settings.ring_timeout_seconds,
            settings.agent_ring_timeout_seconds,
            agents=agents,
            journal=CallJournal(settings.data_dir) if with_switch else None,
        )
        agent_accounts = AgentAccounts(db, clock, agents, directory)
        agent_calls = AgentCallService(agent_accounts, agents, calls)
        auth = AuthService(
            db,
            clock,
            directory,
            timedelta(seconds=settings.token_ttl_seconds),
            LoginLimits.of(settings),
            credentials=credentials,
            credential_token_ttl=timedelta(seconds=settings.credential_token_ttl_seconds),
        )
        sessions = AgentSessions(
            db,
            directory,
            clock,
            agents,
            bus,
            agent_calls,
            switch,
            auth,
            grace_seconds=settings.agent_session_grace_seconds,
            sip_domain=settings.sip_domain,
            sip_websocket=settings.sip_websocket_url,
        )
        if switch is not None:

            def call_recording(company_code: int, call_id: str, started: datetime) -> str:
                _path, filename = recordings.path_for(company_code, call_id, started)
                return recordings.lasting_link(company_code, filename)

            follower = CallFollower(
                sessions,
                calls.live,
                call_recording,
                lambda: round(clock.now().timestamp() * 1000),
            )
            switch.subscribe(follower.on_event)
        metrics.calls_in_progress.set_function(lambda: len(calls.live))
        if switch is not None:
            metrics.switch_calls.set_function(lambda: switch.call_count)
        queues = QueueSettingsService(db, directory, clock)
        distributor = None
        if switch is not None:
            distributor = Distributor(
                switch,
                queues,
                agents,
                sessions,
                calls,
                OutboundLines(trunks, numbers),
                directory,
                clock,
                EspeakSynthesizer(settings.data_dir / "prompts"),
                lambda: hold_music(settings.data_dir / "prompts"),
                QueueStats(metrics),
            )
            bus.subscribe(distributor.on_bus_event)
        wallboard = Wallboard(
            db,
            directory,
            clock,
            sessions,
            calls,
            tasks,
            waiting=distributor.waiting if distributor is not None else nobody_waiting,
            switch=switch,
        )
        bus.subscribe(wallboard.on_bus_event)
        mid_calls = None
        if switch is not None and distributor is not None:
            mid_calls = MidCalls(
                sessions,
                switch,
                calls,
                AgentReach(switch, OutboundLines(trunks, numbers), directory),
                groups,
                distributor,
                lambda: hold_music(settings.data_dir / "prompts"),
            )
        dialer = None
        if switch is not None:
            abandon = AbandonMessage(
                EspeakSynthesizer(settings.data_dir / "prompts"),
                settings.dialer_abandon_message,
                settings.dialer_abandon_language,
            )
            dialer = Dialer(
                tasks,
                calls,
                switch,
                groups,
                directory,
                trunks,
                numbers,
                cdrs,
                clock,
                metrics,
                abandon,
                agents=agents,
            )
        return cls(
            settings=settings,
            clock=clock,
            db=db,
            metrics=metrics,
            presence=presence,
            directory=directory,
            bus=bus,
            switch=switch,
            agents=agents,
            agent_accounts=agent_accounts,
            agent_calls=agent_calls,
            sessions=sessions,
            queues=queues,
            distributor=distributor,
            mid_calls=mid_calls,
            companies=CompanyService(db, clock, directory),
            auth=auth,
            credentials=credentials,
            wallboard=wallboard,
            extensions=ExtensionService(db, clock, presence, directory),
            groups=groups,
            trunks=trunks,
            pbx_trunks=PbxTrunkService(db, clock, directory),
            numbers=numbers,
            cdrs=cdrs,
            recordings=recordings,
            calls=calls,
            voice_calls=VoiceCallService(
                switch,
                calls,
                trunks,
                numbers,
                EspeakSynthesizer(settings.data_dir / "prompts"),
                settings.ring_timeout_seconds,
            ),
            dialer=dialer,
            tasks=tasks,
            webhooks=webhooks,
            outbox=outbox,
            delivery=DeliveryWorker(
                outbox, webhooks, clock, DeliveryConfig.from_settings(settings)
            ),
        )

    async def close(self) -> None:
        await self.sessions.flush()
        if self.dialer is not None:
            await self.dialer.stop()
        if self.switch is not None:
            await self.switch.stop()
        await self.cdrs.close()
        await self.delivery.stop()
        await self.outbox.close()
        await self.db.close()
