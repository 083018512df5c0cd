"""Recordings: where they are written, App.Sip_Cdr.GetRecodeFile's signed links, the
download route, and the retention purge."""

from __future__ import annotations

import asyncio
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from callyard.config import Settings
from callyard.container import Container
from callyard.errors import InvalidInput
from callyard.testing.clock import ManualClock
from tests.conftest import SipClient, Tenant
from tests.factories import call_record, caller_of, write_wav

GET = "App.Sip_Cdr.GetRecodeFile"


async def _recorded_call(container: Container, tenant: Tenant, uuid: str) -> tuple[str, bytes]:
    """A finished call of the tenant with a real WAV; its recordfilename and the bytes."""
    caller = await caller_of(container, tenant.code)
    started = container.clock.now()
    path, filename = container.recordings.path_for(tenant.code, uuid, started)
    audio = write_wav(path)
    await container.cdrs.record(
        call_record(
            caller,
            started,
            uuid=uuid,
            recordfilename=filename,
            downloadip=container.recordings.download_host,
        )
    )
    return filename, audio


async def test_path_for_lays_recordings_out_per_company_and_day(
    container: Container, settings: Settings
) -> None:
    started = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    path, filename = container.recordings.path_for(1001, "cda5c6c4-0a17", started)
    assert filename == "20261123/cda5c6c4-0a17.wav"
    assert path == settings.data_dir / "recordings" / "1001" / "20261123" / "cda5c6c4-0a17.wav"
    assert path.parent.is_dir()
    # The day is the UTC day, whatever the zone of the time given.
    later = datetime.fromisoformat("2026-11-24T07:30:00+08:00")
    assert container.recordings.path_for(1001, "u", later)[1] == "20261123/u.wav"
    for bad in ("", "../1002/x", "a/b", "a.b", "x" * 65):
        with pytest.raises(InvalidInput):
            container.recordings.path_for(1001, bad, started)
    with pytest.raises(InvalidInput):
        container.recordings.path_for(1001, "u", datetime(2026, 11, 23))


async def test_get_recode_file_and_download(
    container: Container, sip: SipClient, http: httpx.AsyncClient, tenant: Tenant
) -> None:
    filename, audio = await _recorded_call(container, tenant, "cda5c6c4-0a17-11e8-b177")
    reply = await sip.call({"service": GET, "token": tenant.token, "filename": filename})
    assert reply["ret"] == 200, reply
    data = reply["data"]
    assert (data["status"], data["desc"]) == (0, "get success")
    result = data["result"]
    assert set(result) == {"downurl", "expiredtime"}
    # The seed's example: expiry five minutes after reqtime.
    expires_at = datetime.fromtimestamp(data["reqtime"] + 300, UTC)
    assert result["expiredtime"] == f"Expiration time:{expires_at:%Y-%m-%d %H:%M:%S}"
    url = urlsplit(result["downurl"])
    assert (url.scheme, url.netloc) == ("http", "127.0.0.1:8080")
    assert url.path == f"/recordings/{tenant.code}/{filename}"
    query = parse_qs(url.query)
    assert query["expires"] == [str(data["reqtime"] + 300)]
    assert len(query["sig"][0]) == 64

    response = await http.get(result["downurl"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/wav"
    assert response.content == audio


async def test_altered_and_expired_links_are_refused(
    container: Container,
    sip: SipClient,
    http: httpx.AsyncClient,
    tenant: Tenant,
    clock: ManualClock,
) -> None:
    filename, _ = await _recorded_call(container, tenant, "call-1")
    await _recorded_call(container, tenant, "call-2")
    reply = await sip.call({"service": GET, "token": tenant.token, "filename": filename})
    url = reply["data"]["result"]["downurl"]
    sig = parse_qs(urlsplit(url).query)["sig"][0]
    expires = parse_qs(urlsplit(url).query)["expires"][0]

    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    refused = [
        url.replace(sig, flipped),
        url.replace(sig, ""),
        url.replace(f"sig={sig}", ""),
        url.replace("call-1", "call-2"),  # another file with this file's signature
        url.replace(f"/{tenant.code}/", f"/{tenant.code + 1}/"),  # another company's directory
        url.replace(expires, str(int(expires) + 3600)),  # a later expiry
        url.replace(filename, filename.replace(".wav", ".WAV")),
        url.replace(filename, f"..%2F{tenant.code}%2F{filename}"),
        url.replace(filename, f"{filename.split('/')[0]}/..%2F..%2F..%2Fcallyard.db"),
        url.replace(f"/{tenant.code}/", "/%2E%2E/"),
    ]
    for bad in refused:
        response = await http.get(bad)
        assert response.status_code in (403, 404), bad
        assert response.headers["content-type"] == "application/json", bad
        assert b"RIFF" not in response.content
    assert all([(await http.get(bad)).status_code == 403 for bad in refused[:7]])

    clock.advance(299)
    assert (await http.get(url)).status_code == 200
    clock.advance(1)
    expired = await http.get(url)
    assert expired.status_code == 403
    assert expired.json() == {"error": "invalid or expired download link"}


async def test_another_companys_or_an_unknown_file_is_1003(
    container: Container, sip: SipClient, tenant: Tenant, other: Tenant
) -> None:
    filename, _ = await _recorded_call(container, tenant, "call-1")
    for token, name in (
        (other.token, filename),
        (tenant.token, "20260101/nope.wav"),
        (tenant.token, "../../callyard.db"),
        (tenant.token, "abcdefg"),
    ):
        reply = await sip.call({"service": GET, "token": token, "filename": name})
        assert reply["ret"] == 200
        assert reply["data"]["status"] == 1, name
        assert reply["data"]["errors"] == {"code": "1003", "codemsg": "operation failed"}
        assert name in reply["data"]["desc"]
    missing = await sip.call({"service": GET, "token": tenant.token, "filename": ""})
    assert missing["ret"] == 400
    assert missing["msg"] == "Illegal request: missing parameter filename"


async def test_a_recording_whose_file_is_gone_is_1003(
    container: Container, sip: SipClient, tenant: Tenant, settings: Settings
) -> None:
    filename, _ = await _recorded_call(container, tenant, "call-1")
    (settings.data_dir / "recordings" / str(tenant.code) / filename).unlink()
    reply = await sip.call({"service": GET, "token": tenant.token, "filename": filename})
    assert reply["data"]["errors"]["code"] == "1003"
    assert reply["data"]["desc"] == f"Recording {filename} is not available"


async def test_the_cdr_module_licence_is_checked(
    container: Container, sip: SipClient, tenant: Tenant
) -> None:
    await container.companies.set_capabilities(tenant.code, enable=[], disable=["recordings"])
    reply = await sip.call({"service": GET, "token": tenant.token, "filename": "20260101/x.wav"})
    assert reply["ret"] == 603


async def test_purge_deletes_recordings_past_the_retention(
    container: Container,
    sip: SipClient,
    http: httpx.AsyncClient,
    tenant: Tenant,
    clock: ManualClock,
    settings: Settings,
) -> None:
    old_name, _ = await _recorded_call(container, tenant, "old-call")
    old_file = settings.data_dir / "recordings" / str(tenant.code) / old_name
    link = (await sip.call({"service": GET, "token": tenant.token, "filename": old_name}))["data"]
    stray = settings.data_dir / "recordings" / str(tenant.code) / "20251230" / "stray.wav"
    stray.parent.mkdir(parents=True)
    write_wav(stray)

    clock.advance(timedelta(days=60).total_seconds())
    new_name, _ = await _recorded_call(container, tenant, "new-call")
    new_file = settings.data_dir / "recordings" / str(tenant.code) / new_name
    clock.advance(timedelta(days=29).total_seconds())
    assert await container.recordings.purge() == 0
    assert old_file.exists()
    assert not stray.exists()  # a day wholly past the retention, without a call record

    clock.advance(timedelta(days=2).total_seconds())  # 91 days after the old call
    assert await container.recordings.purge() == 1
    assert not old_file.exists()
    assert new_file.exists()
    assert await container.recordings.purge() == 0

    token = await sip.login(tenant.appid, tenant.accesskey)  # the first expired long ago
    reply = await sip.call({"service": GET, "token": token, "filename": old_name})
    assert reply["data"]["errors"]["code"] == "1003"
    assert "kept 90 days" in reply["data"]["desc"]
    assert (await http.get(link["result"]["downurl"])).status_code == 403  # expired long ago
    kept = await sip.call({"service": GET, "token": token, "filename": new_name})
    assert kept["data"]["status"] == 0
    # The call record keeps its recordfilename: it is history.
    records = await container.cdrs.list_for_company(tenant.code)
    assert [r.record.recordfilename for r in records] == [new_name, old_name]
    assert records[1].recording_purged_at == clock.now()


async def test_a_purged_file_behind_a_live_link_is_404(
    container: Container,
    sip: SipClient,
    http: httpx.AsyncClient,
    tenant: Tenant,
    settings: Settings,
) -> None:
    filename, _ = await _recorded_call(container, tenant, "call-1")
    reply = await sip.call({"service": GET, "token": tenant.token, "filename": filename})
    (settings.data_dir / "recordings" / str(tenant.code) / filename).unlink()
    gone = await http.get(reply["data"]["result"]["downurl"])
    assert gone.status_code == 404
    assert gone.json() == {"error": "the recording no longer exists"}


async def test_the_server_purges_periodically(
    container: Container, tenant: Tenant, clock: ManualClock, settings: Settings
) -> None:
    from callyard.cli.serve import purge_recordings_periodically

    filename, _ = await _recorded_call(container, tenant, "old-call")
    clock.advance(timedelta(days=91).total_seconds())
    task = asyncio.create_task(purge_recordings_periodically(container, interval=0.01))
    try:
        for _ in range(500):
            records = await container.cdrs.list_for_company(tenant.code)
            if records[0].recording_purged_at is not None:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert records[0].recording_purged_at is not None
    assert not (settings.data_dir / "recordings" / str(tenant.code) / filename).exists()


def test_recording_settings(tmp_path: Path) -> None:
    defaults = Settings.from_env({}, data_dir=tmp_path, http="10.1.2.3:8090")
    assert defaults.recording_url == "http://10.1.2.3:8090"
    assert defaults.recording_retention_days == 90
    secret = defaults.resolve_recording_secret()
    key_file = tmp_path / "recording.key"
    assert key_file.read_text().strip() == secret
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert defaults.resolve_recording_secret() == secret

    configured = Settings.from_env(
        {
            "CALLYARD_PUBLIC_URL": "https://calls.example.com/cy/",
            "CALLYARD_RECORDING_RETENTION_DAYS": "30",
            "CALLYARD_RECORDING_SECRET": "from-the-environment",
        },
        data_dir=tmp_path / "other",
    )
    assert configured.recording_url == "https://calls.example.com/cy"
    assert configured.recording_retention_days == 30
    assert configured.resolve_recording_secret() == "from-the-environment"
    assert not (tmp_path / "other").exists()
    assert Settings.from_env({}, public_url="http://h:1").recording_url == "http://h:1"

    for env in (
        {"CALLYARD_PUBLIC_URL": "ftp://example.com"},
        {"CALLYARD_PUBLIC_URL": "example.com"},
        {"CALLYARD_PUBLIC_URL": "http://example.com/?a=1"},
        {"CALLYARD_RECORDING_RETENTION_DAYS": "0"},
        {"CALLYARD_RECORDING_RETENTION_DAYS": "ninety"},
    ):
        with pytest.raises(InvalidInput):
            Settings.from_env(env)


async def test_links_use_the_public_url_and_downloadip_its_host(
    settings: Settings, clock: ManualClock, tenant: Tenant, container: Container
) -> None:
    from dataclasses import replace

    public = replace(settings, public_url="https://rec.example.com:8443/base")
    opened = await Container.open(public, clock=clock, upgrade_schema=False)
    try:
        assert opened.recordings.download_host == "rec.example.com"
        filename, _ = await _recorded_call(opened, tenant, "call-1")
        caller = await caller_of(opened, tenant.code)
        url, expires_at = await opened.recordings.download(caller, filename)
        assert url.startswith(f"https://rec.example.com:8443/base/recordings/{tenant.code}/")
        assert expires_at == clock.now() + timedelta(minutes=5)
    finally:
        await opened.close()
    assert container.recordings.download_host == "127.0.0.1"
