"""A pjsua2 softphone in a process of its own, driven by tests/sip/phones.py (`Pjsua`).

Run as `python pjsua_phone.py CONFIG.json`. Commands arrive on stdin and events leave on
stdout, one JSON object a line: {"cmd": "dial", "uri": ...} in, {"event": "established",
"param": ...} out. A crash in PJSIP ends this process, not the tests.

Single-threaded: PJSIP has no worker thread (`threadCnt = 0`); the main loop polls it with
`libHandleEvents` between reads of stdin, so every callback runs on this thread.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import sys
from pathlib import Path
from typing import Any

import pjsua2 as pj

G711 = ("PCMU/8000", "PCMA/8000")


def register_digests() -> None:
    """Make MD5 known to the OpenSSL bundled with the wheel.

    PJSIP asks OpenSSL for its digest algorithms, and OpenSSL 1.0.2 knows none until
    they are registered, which PJSIP only has done when it starts TLS: without this,
    every digest challenge fails ("The algorithm (MD5) ... is not supported").
    """
    libs = Path(pj.__file__).resolve().parent.parent / "pjsua2_python.libs"
    for library in libs.glob("libcrypto-*"):
        ctypes.CDLL(str(library)).OpenSSL_add_all_digests()


def emit(event: str, param: object = "") -> None:
    print(json.dumps({"event": event, "param": str(param)}), flush=True)


class Phone:
    """The endpoint, its account, the current call and the media around it."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.recordings = Path(config["recordings"])
        register_digests()
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        ep_config = pj.EpConfig()
        ep_config.uaConfig.threadCnt = 0
        ep_config.uaConfig.mainThreadOnly = True
        ep_config.uaConfig.userAgent = "callyard-test-pjsua2"
        ep_config.logConfig.level = 5
        ep_config.logConfig.consoleLevel = 0
        ep_config.logConfig.filename = config["log"]
        # The bridge runs at 8 kHz: G.711 needs no resampling and the recordings are 8 kHz.
        ep_config.medConfig.clockRate = 8000
        ep_config.medConfig.sndClockRate = 8000
        ep_config.medConfig.channelCount = 1
        ep_config.medConfig.noVad = True
        self.ep.libInit(ep_config)
        # No sound card: the null device still clocks the conference bridge.
        self.ep.audDevManager().setNullDev()
        transport = pj.TransportConfig()
        transport.port = config["sip_port"]
        transport.boundAddress = config["host"]
        transport.publicAddress = config["host"]
        self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
        for codec in self.ep.codecEnum2():
            self.ep.codecSetPriority(codec.codecId, 0)
        for priority, codec in zip((255, 254), G711, strict=True):
            self.ep.codecSetPriority(codec, priority)
        self.ep.libStart()

        self.player = pj.AudioMediaPlayer()
        self.player.createPlayer(config["audio"], 0)  # loops
        self.auto_answer = config["answermode"] == "auto"
        self.account = Account(self)
        self.account.create(self.account_config(), True)
        self.call: Call | None = None
        self.calls = 0
        self.running = True

    def account_config(self) -> Any:
        config = self.config
        account = pj.AccountConfig()
        account.idUri = f"sip:{config['user']}@{config['domain']}"
        if config["regint"] > 0:
            account.regConfig.registrarUri = f"sip:{config['domain']}"
            account.regConfig.timeoutSec = config["regint"]
            account.regConfig.registerOnAdd = True
        else:
            account.regConfig.registerOnAdd = False
        if config["password"]:
            account.sipConfig.authCreds.append(
                pj.AuthCredInfo("digest", "*", config["user"], 0, config["password"])
            )
        media = account.mediaConfig.transportConfig
        media.port = config["rtp_port"]
        media.portRange = 4
        media.boundAddress = config["host"]
        media.publicAddress = config["host"]
        account.natConfig.iceEnabled = False
        account.natConfig.sipStunUse = pj.PJSUA_STUN_USE_DISABLED
        account.natConfig.mediaStunUse = pj.PJSUA_STUN_USE_DISABLED
        account.natConfig.contactRewriteUse = 0
        account.natConfig.viaRewriteUse = 0
        account.natConfig.sdpNatRewriteUse = 0
        return account

    def new_call(self, call_id: int = pj.PJSUA_INVALID_ID) -> Call:
        self.calls += 1
        self.call = Call(self, call_id)
        return self.call

    def handle(self, command: dict[str, Any]) -> None:
        name = command["cmd"]
        call = self.call
        if name == "quit":
            self.running = False
        elif name == "dial":
            self.new_call().makeCall(command["uri"], pj.CallOpParam(True))
        elif name == "unregister":
            self.account.setRegistration(False)
        elif call is None:
            emit("error", f"{name}: no call")
        elif name == "accept":
            answer = pj.CallOpParam()
            answer.statusCode = 200
            call.answer(answer)
        elif name == "hangup":
            call.hangup(pj.CallOpParam())
        elif name == "hold":
            call.setHold(pj.CallOpParam(True))
        elif name == "resume":
            resume = pj.CallOpParam(True)
            resume.opt.flag = pj.PJSUA_CALL_UNHOLD
            call.reinvite(resume)
        elif name == "dtmf":
            dtmf = pj.CallSendDtmfParam()
            dtmf.method = pj.PJSUA_DTMF_METHOD_RFC2833
            dtmf.digits = command["digits"]
            call.sendDtmf(dtmf)
        else:
            emit("error", f"unknown command {name}")

    def run(self) -> None:
        emit("ready")
        buffer = b""
        while self.running:
            self.ep.libHandleEvents(10)
            readable, _, _ = select.select([sys.stdin.buffer], [], [], 0.01)
            if not readable:
                continue
            chunk = os.read(sys.stdin.fileno(), 4096)
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if not line.strip():
                    continue
                try:
                    self.handle(json.loads(line))
                except pj.Error as exc:
                    emit("error", exc.info())

    def shutdown(self) -> None:
        self.ep.hangupAllCalls()
        for _ in range(50):
            self.ep.libHandleEvents(10)
        self.ep.libDestroy()


class Account(pj.Account):  # type: ignore[misc]
    def __init__(self, phone: Phone) -> None:
        super().__init__()
        self.phone = phone

    def onRegState(self, prm: Any) -> None:
        if prm.code // 100 != 2:
            emit("registration_failed", f"{prm.code} {prm.reason}")
        elif prm.expiration > 0:
            emit("registered", f"{prm.code} {prm.reason}")
        else:
            emit("unregistered", f"{prm.code} {prm.reason}")

    def onIncomingCall(self, prm: Any) -> None:
        call = self.phone.new_call(prm.callId)
        emit("incoming", call.getInfo().remoteUri)
        answer = pj.CallOpParam()
        answer.statusCode = 200 if self.phone.auto_answer else 180
        call.answer(answer)


class Call(pj.Call):  # type: ignore[misc]
    def __init__(self, phone: Phone, call_id: int) -> None:
        super().__init__(phone.account, call_id)
        self.phone = phone
        self.recorder: Any = None
        self.held = False

    def onCallState(self, prm: Any) -> None:
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_EARLY and info.lastStatusCode in (180, 183):
            emit("ringing", info.lastStatusCode)
        elif info.state == pj.PJSIP_INV_STATE_CONFIRMED:
            emit("established", info.remoteUri)
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            # Closing the recorder writes its WAV header.
            self.recorder = None
            emit("closed", f"{info.lastStatusCode} {info.lastReason}")

    def onCallMediaState(self, prm: Any) -> None:
        # Keep the CallInfo: its media vector dangles once a temporary one is freed.
        info = self.getInfo()
        for media in info.media:
            if media.type != pj.PJMEDIA_TYPE_AUDIO:
                continue
            if media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                audio = self.getAudioMedia(media.index)
                if self.recorder is None:
                    self.recorder = pj.AudioMediaRecorder()
                    path = self.phone.recordings / f"call-{self.phone.calls}.wav"
                    self.recorder.createRecorder(str(path))
                self.phone.player.startTransmit(audio)
                audio.startTransmit(self.recorder)
                if self.held:
                    self.held = False
                    emit("resumed")
                emit("media", "active")
            elif media.status == pj.PJSUA_CALL_MEDIA_LOCAL_HOLD:
                self.held = True
                emit("held")
            elif media.status == pj.PJSUA_CALL_MEDIA_REMOTE_HOLD:
                emit("media", "remote hold")

    def onDtmfDigit(self, prm: Any) -> None:
        emit("dtmf", prm.digit)


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    phone = Phone(config)
    try:
        phone.run()
    finally:
        phone.shutdown()
    # pjsua2's Python objects must not be destroyed after libDestroy.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
