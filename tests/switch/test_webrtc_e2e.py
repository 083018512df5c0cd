"""Browsers as phones: headless Chromium with callyard's soft-phone SDK registers over SIP
over WebSocket, and its calls carry DTLS-SRTP through the relay to ordinary SIP phones,
with the audio checked at both ends."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import websockets
from playwright.sync_api import Page
from websockets.typing import Subprotocol

from callyard.testing.audio import tones_heard, wav_samples
from callyard.testing.browser import Browser, chromium_unavailable, received_audio
from callyard.testing.receiver import Receiver
from callyard.testing.server import Server
from callyard.testing.sip import Baresip, running, write_tone_wav
from tests.switch.pbx import (
    AGENT,
    CALLER_ID,
    COMPANY,
    SECOND_AGENT,
    Pbx,
    make_call,
    relay_ports,
)
from tests.switch.test_dialer_e2e import ok
from tests.switch.test_inbound_e2e import download
from tests.switch.test_mid_call_e2e import (
    CALLER,
    CALLER_HZ,
    FIRST_HZ,
    PASSWORD,
    SECOND_HZ,
    SUPERVISOR_HZ,
    VOICES,
    heard,
    music_heard,
)
from tests.switch.test_queue_e2e import (
    THIRD_AGENT,
    WORK_NUMBERS,
    desk_of,
    nothing_left,
    staffed_queue,
)
from tests.switch.test_queued_call import channel

pytestmark = [
    pytest.mark.sip,
    pytest.mark.skipif(chromium_unavailable() is not None, reason=str(chromium_unavailable())),
]

BROWSER_HZ, PHONE_HZ = 700.0, 440.0  # what each end's microphone says
TONES = (BROWSER_HZ, PHONE_HZ)
SOFT_PHONE = "window.sdk.getSoftPhoneInstance().getSession().connection"
SETTLE = 0.6  # seconds after a change before its audio is judged (relay, jitter buffers)
PHASE_SECONDS = 2.0


def soft_phone(browser: Browser, pbx: Pbx, number: str) -> Page:
    """A tab with the SDK loaded from callyard, registered as extension `number`; the
    SDK's events are kept in `window.heard`."""
    page = browser.page()
    page.goto(f"{pbx.server.url}/soft-phone-sdk/soft-phone-sdk_1.0.19.js")
    page.set_content("<html><body></body></html>")
    page.add_script_tag(url=f"{pbx.server.url}/soft-phone-sdk/soft-phone-sdk_1.0.19.js")
    port = pbx.sip_ws.rsplit(":", 1)[1]
    page.evaluate(
        """([port, account, password]) => {
          window.heard = [];
          const phone = new SoftPhoneSdk({wss: 'ws://127.0.0.1', wssport: port, account, password});
          for (const name of ['Registered', 'UnRegistered', 'RegistrationFailed', 'Invite',
                              'Accepted', 'Terminated', 'CallTerminated'])
            phone.on(name, () => window.heard.push(name));
          window.phone = phone;
          phone.register();
        }""",
        [port, number, pbx.password(number)],
    )
    wait_for(page, "Registered")
    return page


def wait_for(page: Page, event: str, timeout: float = 15, times: int = 1) -> None:
    """Until the page has heard `event` `times` times."""
    page.wait_for_function(
        f"window.heard.filter(e => e === {event!r}).length >= {times}", timeout=timeout * 1000
    )


def inbound_audio(page: Page) -> dict[str, Any]:
    """The browser's own statistics of the audio it receives and of its transport."""
    stats: dict[str, Any] = page.evaluate(
        """async () => {
          const found = {};
          (await window.phone.getSession().connection.getStats()).forEach(r => {
            if (r.type === 'inbound-rtp' && r.kind === 'audio') found.inbound = r;
            if (r.type === 'transport') found.transport = r;
          });
          return found;
        }"""
    )
    return stats


def registered(pbx: Pbx, number: str) -> bool:
    extensions = pbx.admin("GET", "/extensions")
    return any(e["number"] == number and e["registered"] for e in extensions)


def test_a_browser_registers_answers_and_calls_with_encrypted_audio_both_ways(
    pbx: Pbx, tmp_path: Path
) -> None:
    with (
        Browser(tmp_path / "browser", tone_hz=BROWSER_HZ) as browser,
        pbx.phone(
            SECOND_AGENT,
            audio=write_tone_wav(tmp_path / "phone.wav", seconds=60, frequency=PHONE_HZ),
        ) as phone,
    ):
        page = soft_phone(browser, pbx, AGENT)
        assert registered(pbx, AGENT)
        phone.wait_registered()
        # A desk phone calls the browser's extension; the soft phone answers by itself.
        phone.dial(f"sip:{AGENT}@127.0.0.1:{pbx.server.sip_port}")
        phone.wait_established(timeout=15)
        wait_for(page, "Accepted")
        time.sleep(3)
        stats = inbound_audio(page)
        assert stats["transport"]["dtlsState"] == "connected"
        assert stats["transport"]["srtpCipher"]  # encrypted on the browser's side
        assert stats["inbound"]["packetsReceived"] > 100
        assert stats["inbound"]["totalAudioEnergy"] > 0
        phone.hangup()
        phone.wait_closed(timeout=10)
        wait_for(page, "Terminated")
        samples, rate = wav_samples(phone.received_wav())
        assert tones_heard(samples, TONES, rate=rate) == {BROWSER_HZ}
        # The browser calls the desk phone.
        page.evaluate(f"window.phone.call({SECOND_AGENT!r})")
        phone.wait_established(timeout=15)  # it answers by itself
        time.sleep(3)
        assert inbound_audio(page)["inbound"]["packetsReceived"] > 100
        # The browser's keypad reaches the phone as telephone events (RFC 4733).
        for digit in "159#":
            page.evaluate(f"window.phone.dtmf({digit!r})")
            time.sleep(0.3)
        deadline = time.monotonic() + 10
        while "159#" not in phone.received_dtmf() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert phone.received_dtmf() == "159#"
        page.evaluate("window.phone.hangup()")
        phone.wait_closed(timeout=10)
        # A tab that closes takes its registration with it.
        page.close()
        deadline = time.monotonic() + 5
        while registered(pbx, AGENT) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not registered(pbx, AGENT)


def carriers_caller(pbx: Pbx, workdir: Path) -> Baresip:
    """A caller at the company's carrier (a trunk at its host), saying CALLER_HZ."""
    pbx.cli(
        "trunk", "add", "--company", COMPANY, "--name", "carrier",
        "--host", "127.0.0.1", "--port", "5999",
    )  # fmt: skip
    return Baresip(
        workdir / "caller",
        user=CALLER,
        port=pbx.server.sip_port,
        audio=write_tone_wav(workdir / "caller.wav", seconds=90, frequency=CALLER_HZ),
    )


def agent_desk(browser: Browser, pbx: Pbx, extension: str) -> Page:
    """A tab with the vendor's two SDKs from callyard, its agent signed in with login
    type 3 (WebRTC) and its soft phone registered; the agent's events are kept in
    `window.heard`."""
    page = browser.page()
    page.goto(f"{pbx.server.url}/healthz")
    page.set_content("<html><body></body></html>")
    for sdk in ("agent-sdk/agent-sdk_1.1.64.js", "soft-phone-sdk/soft-phone-sdk_1.0.19.js"):
        page.add_script_tag(url=f"{pbx.server.url}/{sdk}")
    page.evaluate(
        """([url, company, agentNumber, password]) => {
          window.heard = [];
          const sdk = new AgentSdk({url, companyShortName: company, agentNumber, password,
                                    softPhoneFactory: SoftPhoneSdk, autoAnswer: true});
          for (const name of ['Login', 'Reconnect', 'Idle', 'Busy', 'AgentRinging', 'Listen',
                              'Conversation', 'Hold', 'UnHold', 'ConsultCall',
                              'ConsultCancel', 'TransferCalling', 'TransferCall', 'After',
                              'TripartiteTalk', 'ConsultTransfer', 'Whisper', 'ForceInsert',
                              'Intercept'])
            sdk.on(name, () => window.heard.push(name));
          window.sdk = sdk;
          sdk.login({agentNumber, password, companyShortName: company, loginType: 3});
        }""",
        [
            pbx.server.url.replace("http://", "ws://") + "/ccs/api/agent/ws",
            COMPANY,
            WORK_NUMBERS[extension],
            PASSWORD,
        ],
    )
    wait_for(page, "Login")
    page.wait_for_function(
        "window.sdk.getSoftPhoneInstance() && window.sdk.getSoftPhoneInstance().isRegistered()",
        timeout=15_000,
    )
    return page


def queue_call_reaches(page: Page, caller: Baresip, pbx: Pbx) -> None:
    """The agent of `page` goes ready; the carrier's caller dials the queued number and
    the agent's soft phone answers by itself."""
    page.evaluate("window.sdk.idle()")
    wait_for(page, "Idle")
    caller.dial(f"sip:{CALLER_ID}@127.0.0.1:{pbx.server.sip_port}")
    caller.wait_established(timeout=20)
    wait_for(page, "Conversation")


def agent_hears(page: Page, packets: int = 100, timeout: float = 10) -> dict[str, Any]:
    """The agent's soft phone's statistics of the audio it receives, once `packets`
    packets have come (its call's own, as the browser counts them)."""
    script = """async (packets) => {
      const session = window.sdk.getSoftPhoneInstance().getSession();
      if (!session || !session.connection) return null;
      let found = null;
      (await session.connection.getStats()).forEach(r => {
        if (r.type === 'inbound-rtp' && r.kind === 'audio') found = r;
      });
      return found && found.packetsReceived >= packets ? found : null;
    }"""
    deadline = time.monotonic() + timeout
    while (stats := page.evaluate(script, packets)) is None:
        assert time.monotonic() < deadline, f"fewer than {packets} packets reached the browser"
        time.sleep(0.2)
    found: dict[str, Any] = stats
    return found


def the_one_record(pbx: Pbx, extension: str) -> dict[str, Any]:
    """The queue call's one record; it names `extension`, the agent who had it last."""
    record = pbx.record_with(type="callin")
    assert record["extnumber"] == extension
    assert len([r for r in pbx.records() if r["type"] == "callin"]) == 1
    return record


@dataclass
class Phases:
    """A call's phases as its browsers hear them, from the moment the caller is put
    through; each phase's span is kept to judge the caller's audio over the same time."""

    start: float = field(default_factory=time.monotonic)
    spans: dict[str, tuple[float, float]] = field(default_factory=dict)

    def hear(self, name: str, *pages: Page) -> list[set[float]]:
        """The voices each page's soft phone hears in phase `name`, which begins now."""
        time.sleep(SETTLE)
        begin = time.monotonic() - self.start
        audio = received_audio(pages, SOFT_PHONE, PHASE_SECONDS)
        self.spans[name] = (begin + 0.2, begin + PHASE_SECONDS - 0.2)
        return [tones_heard(samples, VOICES, rate=rate) for samples, rate in audio]


@contextmanager
def two_browser_agents(
    pbx: Pbx, receiver: Receiver, tmp_path: Path
) -> Iterator[tuple[Page, Page, Baresip]]:
    """The queue's group with two browser agents signed in, the second not ready, and a
    carrier's caller."""
    staffed_queue(pbx, receiver, ring_seconds=10, max_wait_seconds=120)
    caller = carriers_caller(pbx, tmp_path)
    with (
        Browser(tmp_path / "first", tone_hz=FIRST_HZ) as first_browser,
        Browser(tmp_path / "second", tone_hz=SECOND_HZ) as second_browser,
        caller,
    ):
        first = agent_desk(first_browser, pbx, AGENT)
        second = agent_desk(second_browser, pbx, SECOND_AGENT)
        second.evaluate("window.sdk.busy()")
        wait_for(second, "Busy")
        yield first, second, caller


def test_browser_agents_take_a_queue_call_hold_it_and_hand_it_over(
    pbx: Pbx, receiver: Receiver, tmp_path: Path
) -> None:
    with two_browser_agents(pbx, receiver, tmp_path) as (first, second, caller):
        queue_call_reaches(first, caller, pbx)
        assert agent_hears(first)["totalAudioEnergy"] > 0
        first.evaluate("window.sdk.hold()")
        wait_for(first, "Hold")
        time.sleep(1)
        on_hold = agent_hears(first)["packetsReceived"]
        first.evaluate("window.sdk.unHold()")
        wait_for(first, "UnHold")
        # The caller's stream comes back to the same stream of the browser: during the
        # hold it was sent nothing (another stream, a prompt's, it would keep to).
        assert agent_hears(first, packets=on_hold + 100)["packetsReceived"] > on_hold
        second.evaluate("window.sdk.idle()")
        wait_for(second, "Idle")
        # A consult: the caller waits while the two browsers talk, through the mixer.
        first.evaluate(f"window.sdk.consult({WORK_NUMBERS[SECOND_AGENT]!r})")
        wait_for(first, "ConsultCall")
        wait_for(second, "Conversation")
        assert agent_hears(second)["totalAudioEnergy"] > 0
        heard_before = agent_hears(first)["packetsReceived"]
        assert agent_hears(first, packets=heard_before + 100)["packetsReceived"] > heard_before
        first.evaluate("window.sdk.consultCancel()")
        wait_for(second, "After")
        wait_for(second, "Idle")  # the group's wrap-up: none
        first.evaluate(f"window.sdk.transferCall({WORK_NUMBERS[SECOND_AGENT]!r}, 1)")
        wait_for(second, "Conversation")
        wait_for(first, "After")
        assert agent_hears(second)["totalAudioEnergy"] > 0
        caller.hangup()
        caller.wait_closed(timeout=10)
        wait_for(second, "After")
    record = the_one_record(pbx, SECOND_AGENT)
    stereo = download(pbx, record)
    left, right = (channel(stereo, side, tmp_path / f"{side}.wav") for side in (True, False))
    assert tones_heard(wav_samples(left)[0], VOICES) == {FIRST_HZ, SECOND_HZ}
    assert tones_heard(wav_samples(right)[0], VOICES) == {CALLER_HZ}
    samples, rate = wav_samples(caller.received_wav())
    assert tones_heard(samples, VOICES, rate=rate) >= {FIRST_HZ, SECOND_HZ}
    nothing_left(pbx.server.url)


def test_a_browser_agent_that_loses_its_connections_keeps_its_call(
    pbx: Pbx, receiver: Receiver, tmp_path: Path
) -> None:
    staffed_queue(pbx, receiver, ring_seconds=10, max_wait_seconds=120)
    caller = carriers_caller(pbx, tmp_path)
    with Browser(tmp_path / "agent", tone_hz=FIRST_HZ) as browser, caller:
        page = agent_desk(browser, pbx, AGENT)
        queue_call_reaches(page, caller, pbx)
        before = agent_hears(page)["packetsReceived"]
        # The network drops both of the tab's connections (not the page closing them):
        # the agent's socket and the soft phone's SIP WebSocket. The media, over UDP,
        # goes on.
        page.evaluate(
            """() => {
              window.sdk._socket.close();
              window.sdk.getSoftPhoneInstance()._ua._transport.socket._ws.close();
            }"""
        )
        wait_for(page, "Reconnect", timeout=30)  # its session back, with its token
        page.wait_for_function("window.sdk.getSoftPhoneInstance().isRegistered()", timeout=30_000)
        assert agent_hears(page, packets=before + 100)["packetsReceived"] > before
        # The caller hangs up: the BYE reaches the browser over its new connection.
        caller.hangup()
        caller.wait_closed(timeout=10)
        page.wait_for_function(
            "window.sdk.getSoftPhoneInstance().getSession().isEnded()", timeout=10_000
        )
        wait_for(page, "After")
    assert len([r for r in pbx.records() if r["type"] == "callin"]) == 1
    nothing_left(pbx.server.url)


def test_a_click_to_call_rings_the_browser_first_then_the_customer(
    pbx: Pbx, tmp_path: Path
) -> None:
    carrier = pbx.carrier("uas_answer_echo.xml", calls=1, recv_timeout_ms=3000)
    pbx.trunk_to(carrier)
    with Browser(tmp_path / "browser", tone_hz=BROWSER_HZ) as browser, running(carrier):
        page = soft_phone(browser, pbx, AGENT)
        reply = make_call(pbx, "cust-browser")
        assert reply["data"]["desc"] == "Call command sent successfully"
        wait_for(page, "Accepted")  # the agent's browser answered by itself
        # The carrier echoes what it gets: the browser hears its own voice back, through
        # the relay's DTLS-SRTP both ways.
        deadline = time.monotonic() + 10
        while (inbound_audio(page).get("inbound") or {}).get("packetsReceived", 0) < 100:
            assert time.monotonic() < deadline, "no echo reached the browser"
            time.sleep(0.2)
        wait_for(page, "Terminated", timeout=20)  # the carrier hangs up
    record = pbx.record_of("cust-browser")
    assert (record["extnumber"], record["callmethod"]) == (AGENT, 3)
    assert record["answertime"]
    samples, rate = wav_samples(download(pbx, record))
    left, right = samples[0::2], samples[1::2]  # the agent, the customer
    assert tones_heard(left, TONES, rate=rate) == {BROWSER_HZ}
    assert tones_heard(right, TONES, rate=rate) == {BROWSER_HZ}  # its echo


def test_a_predictive_task_puts_an_answered_customer_through_to_a_browser(
    pbx: Pbx, tmp_path: Path
) -> None:
    carrier = pbx.carrier("uas_answer_echo.xml", calls=1, recv_timeout_ms=6000)
    pbx.trunk_to(carrier)
    ok(pbx.api("App.Sip_Extgroup.AddExtgroup", name="outbound", status="1"))
    ok(pbx.api("App.Sip_Extgroup.AddExtnumber", name="outbound", extnumber=AGENT))
    with Browser(tmp_path / "browser", tone_hz=BROWSER_HZ) as browser, running(carrier):
        page = soft_phone(browser, pbx, AGENT)
        today = datetime.now().date()
        task = ok(
            pbx.api(
                "App.Sip_Yccall.TaskCreate",
                name="renewals",
                groupname="outbound",
                numbers=json.dumps([{"telphone": "628123400001", "customuuid": "c-web"}]),
                startdate=str(today - timedelta(days=1)),
                enddate=str(today + timedelta(days=1)),
                windows="00:00-23:59",
                ringtimeout="15",
                wrapup="0",
            )
        )["taskid"]
        ok(pbx.api("App.Sip_Yccall.TaskStart", taskid=task))
        wait_for(page, "Accepted", timeout=30)  # the customer answered, then the agent
        deadline = time.monotonic() + 10
        while (inbound_audio(page).get("inbound") or {}).get("packetsReceived", 0) < 100:
            assert time.monotonic() < deadline, "no echo reached the browser"
            time.sleep(0.2)
        wait_for(page, "Terminated", timeout=20)
    record = pbx.record_of("c-web")
    assert record["extnumber"] == AGENT
    assert record["answertime"]
    samples, rate = wav_samples(download(pbx, record))
    assert tones_heard(samples[0::2], TONES, rate=rate) == {BROWSER_HZ}


def self_signed(workdir: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    chain, key_file = workdir / "sip-ws.crt", workdir / "sip-ws.key"
    chain.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return chain, key_file


def test_the_switch_takes_sip_over_tls_websockets_with_its_certificate(tmp_path: Path) -> None:
    chain, key = self_signed(tmp_path)
    server = Server(
        tmp_path / "data",
        "--rtp-ports", relay_ports(), "--sip-ws-cert", str(chain), "--sip-ws-key", str(key),
        sip_ws=True,
    )  # fmt: skip
    try:
        trusted = ssl.create_default_context(cafile=str(chain))
        register = (
            f"REGISTER sip:127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/WSS client.invalid;branch=z9hG4bK-{time.monotonic_ns()}\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:10010001@127.0.0.1>;tag=t1\r\n"
            "To: <sip:10010001@127.0.0.1>\r\nCall-ID: wss-test\r\nCSeq: 1 REGISTER\r\n"
            "Contact: <sip:x@client.invalid;transport=ws>\r\nExpires: 600\r\n"
            "Content-Length: 0\r\n\r\n"
        )

        async def exchange() -> str:
            url = f"wss://127.0.0.1:{server.sip_ws_port}"
            async with websockets.connect(
                url, subprotocols=[Subprotocol("sip")], ssl=trusted
            ) as socket:
                await socket.send(register)
                answer = await asyncio.wait_for(socket.recv(), 10)
                return answer if isinstance(answer, str) else answer.decode()

        answer = asyncio.run(exchange())
        assert answer.startswith("SIP/2.0 401 Unauthorized"), answer  # the same registrar
        assert "WWW-Authenticate: Digest" in answer
    finally:
        server.stop()


def test_a_supervisor_in_the_browser_listens_whispers_barges_in_and_intercepts(
    pbx: Pbx, receiver: Receiver, tmp_path: Path
) -> None:
    staffed_queue(pbx, receiver, supervisor=THIRD_AGENT, ring_seconds=10, max_wait_seconds=120)
    caller = carriers_caller(pbx, tmp_path)
    with (
        Browser(tmp_path / "agent", tone_hz=FIRST_HZ) as agent_browser,
        Browser(tmp_path / "supervisor", tone_hz=SUPERVISOR_HZ) as supervisor_browser,
        caller,
    ):
        agent = agent_desk(agent_browser, pbx, AGENT)
        supervisor = agent_desk(supervisor_browser, pbx, THIRD_AGENT)
        queue_call_reaches(agent, caller, pbx)
        phases = Phases()
        assert phases.hear("talk", agent) == [{CALLER_HZ}]
        # The supervisor's soft phone is called into the call's room through a relay
        # session of its own: it hears the call, and nobody hears it.
        supervisor.evaluate(f"window.sdk.listen({WORK_NUMBERS[AGENT]!r})")
        wait_for(supervisor, "Listen")
        assert phases.hear("listen", agent, supervisor) == [{CALLER_HZ}, {CALLER_HZ, FIRST_HZ}]
        supervisor.evaluate(f"window.sdk.whisper({WORK_NUMBERS[AGENT]!r})")
        wait_for(supervisor, "Whisper")
        assert phases.hear("whisper", agent, supervisor) == [
            {CALLER_HZ, SUPERVISOR_HZ},
            {CALLER_HZ, FIRST_HZ},
        ]
        supervisor.evaluate(f"window.sdk.forceInsert({WORK_NUMBERS[AGENT]!r})")
        wait_for(supervisor, "ForceInsert")
        assert phases.hear("barge", agent, supervisor) == [
            {CALLER_HZ, SUPERVISOR_HZ},
            {CALLER_HZ, FIRST_HZ},
        ]
        supervisor.evaluate(f"window.sdk.intercept({WORK_NUMBERS[AGENT]!r})")
        wait_for(supervisor, "Intercept")
        wait_for(agent, "After")
        assert phases.hear("intercepted", supervisor) == [{CALLER_HZ}]
        caller.hangup()
        caller.wait_closed(timeout=10)
        wait_for(supervisor, "After")
    to_caller = caller.received_wav()
    assert heard(to_caller, phases.spans["talk"]) == {FIRST_HZ}
    assert heard(to_caller, phases.spans["listen"]) == {FIRST_HZ}
    assert heard(to_caller, phases.spans["whisper"]) == {FIRST_HZ}
    assert heard(to_caller, phases.spans["barge"]) == {FIRST_HZ, SUPERVISOR_HZ}
    assert heard(to_caller, phases.spans["intercepted"]) == {SUPERVISOR_HZ}
    assert pbx.record_with(type="callin")["extnumber"] == THIRD_AGENT
    nothing_left(pbx.server.url)


def test_browser_agents_consult_talk_three_way_and_hand_the_call_over(
    pbx: Pbx, receiver: Receiver, tmp_path: Path
) -> None:
    with two_browser_agents(pbx, receiver, tmp_path) as (first, second, caller):
        queue_call_reaches(first, caller, pbx)
        phases = Phases()
        second.evaluate("window.sdk.idle()")
        wait_for(second, "Idle")
        first.evaluate(f"window.sdk.consult({WORK_NUMBERS[SECOND_AGENT]!r})")
        wait_for(first, "ConsultCall")
        wait_for(second, "Conversation")
        assert phases.hear("consult", first, second) == [{SECOND_HZ}, {FIRST_HZ}]
        first.evaluate("window.sdk.tripartiteCall()")
        wait_for(first, "TripartiteTalk")
        assert phases.hear("three-way", first, second) == [
            {CALLER_HZ, SECOND_HZ},
            {CALLER_HZ, FIRST_HZ},
        ]
        # The first agent hangs up: the second keeps the caller, and hands the caller back
        # after a consult.
        first.evaluate("window.sdk.hangup()")
        wait_for(first, "After")
        assert phases.hear("second", second) == [{CALLER_HZ}]
        wait_for(first, "Idle")  # the group's wrap-up: none
        second.evaluate(f"window.sdk.consult({WORK_NUMBERS[AGENT]!r})")
        wait_for(second, "ConsultCall")
        wait_for(first, "Conversation", times=2)
        second.evaluate("window.sdk.consultTransfer()")
        wait_for(second, "ConsultTransfer")
        wait_for(second, "After")
        assert phases.hear("back", first) == [{CALLER_HZ}]
        caller.hangup()
        caller.wait_closed(timeout=10)
        wait_for(first, "After", times=2)
    to_caller = caller.received_wav()
    assert music_heard(to_caller, phases.spans["consult"])
    assert heard(to_caller, phases.spans["three-way"]) == {FIRST_HZ, SECOND_HZ}
    assert heard(to_caller, phases.spans["second"]) == {SECOND_HZ}
    assert heard(to_caller, phases.spans["back"]) == {FIRST_HZ}
    the_one_record(pbx, AGENT)
    nothing_left(pbx.server.url)


def test_a_desk_phones_attended_transfer_to_a_browser_is_refused_and_the_caller_stays(
    pbx: Pbx, receiver: Receiver, tmp_path: Path
) -> None:
    # A browser's DTLS session stays with its own call's relay port, so it cannot be
    # moved into the held call as a desk phone would be: the REFER is refused, and the
    # caller stays with the agent who held it.
    staffed_queue(pbx, receiver, ring_seconds=10, max_wait_seconds=120)
    caller = carriers_caller(pbx, tmp_path)
    voice = write_tone_wav(tmp_path / "agent.wav", seconds=90, frequency=FIRST_HZ)
    with (
        Browser(tmp_path / "browser", tone_hz=SECOND_HZ) as browser,
        pbx.phone(AGENT, audio=voice) as phone,
        caller,
    ):
        phone.wait_registered()
        desk = desk_of(pbx, AGENT, ready=True)
        try:
            page = soft_phone(browser, pbx, SECOND_AGENT)
            caller.dial(f"sip:{CALLER_ID}@127.0.0.1:{pbx.server.sip_port}")
            phone.wait_established(timeout=20)
            caller.wait_established(timeout=10)
            held = [e for e in phone.events if e.type == "CALL_ESTABLISHED"][-1].call_id
            phone.hold()
            phone.dial(f"sip:{SECOND_AGENT}@127.0.0.1:{pbx.server.sip_port}")
            wait_for(page, "Accepted")
            target = f"sip:{SECOND_AGENT}@127.0.0.1:{pbx.server.sip_port}"
            phone.transfer(f"{target}?Replaces={quote(held, safe='')}")
            refused = phone.wait_event(["TRANSFER_FAILED"], timeout=10)
            time.sleep(2)
            assert not [e for e in caller.events if e.type == "CALL_CLOSED"]
            caller.hangup()
            caller.wait_closed(timeout=10)
            desk.event("After")
        finally:
            desk.close()
    assert refused.param.startswith("403"), refused
    the_one_record(pbx, AGENT)
    nothing_left(pbx.server.url)
