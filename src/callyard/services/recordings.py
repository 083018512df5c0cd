"""Call recordings: where the switch writes them, signed download links, retention."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from callyard.clock import Clock
from callyard.domain.refusals import Refusal
from callyard.errors import BusinessError, Forbidden, InvalidInput, NotFound
from callyard.services.auth import Caller
from callyard.services.cdrs import CdrService, RecordingEntry

log = logging.getLogger("callyard.recordings")

RECORDINGS_DIR = "recordings"
DEFAULT_LINK_TTL = timedelta(minutes=5)
DEFAULT_RETENTION = timedelta(days=90)
ROUTE_PREFIX = "/recordings"
_UUID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
# The only names a recording can have: a UTC day, then the call's uuid. Nothing else
# (no '..', no second '/', no other extension) is ever looked up or served.
_FILENAME = re.compile(r"^[0-9]{8}/[A-Za-z0-9-]{1,64}\.wav$")
_COMPANY = re.compile(r"^[0-9]{1,10}$")
_DAY = re.compile(r"^[0-9]{8}$")
_PURGE_BATCH = 500


class RecordingService:
    """Recorded calls of every company, under `data_dir/recordings/<companycode>/`."""

    def __init__(
        self,
        data_dir: Path,
        secret: Callable[[], str],
        clock: Clock,
        public_url: str,
        cdrs: CdrService,
        *,
        link_ttl: timedelta = DEFAULT_LINK_TTL,
        retention: timedelta = DEFAULT_RETENTION,
    ) -> None:
        """`secret` gives the HMAC key of download links; it is read when first needed."""
        self._root = data_dir / RECORDINGS_DIR
        self._secret = secret
        self._key: bytes | None = None
        self._clock = clock
        self._public_url = public_url.rstrip("/")
        self._cdrs = cdrs
        self._link_ttl = link_ttl
        self._retention = retention

    @property
    def download_host(self) -> str:
        """The host of the public URL: a call record's `downloadip`."""
        return urlsplit(self._public_url).hostname or ""

    def path_for(self, company_code: int, uuid: str, started_at: datetime) -> tuple[Path, str]:
        """Where to write a call's WAV (its directory is created) and its `recordfilename`."""
        if not _UUID.match(uuid):
            raise InvalidInput("uuid", "must be 1 to 64 letters, digits or '-'")
        if started_at.tzinfo is None:
            raise InvalidInput("started_at", "needs a timezone")
        filename = f"{started_at.astimezone(UTC):%Y%m%d}/{uuid}.wav"
        path = self._company_dir(company_code) / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        return path, filename

    async def download(self, caller: Caller, filename: str) -> tuple[str, datetime]:
        """GetRecodeFile: a signed link to one of the caller's recordings and its expiry;
        Refused for a name that is not one of the company's recordings or is purged."""
        filename = filename.strip()
        unknown = BusinessError(
            Refusal.RECORDING_NOT_FOUND, f"Recording {filename} does not exist for this company"
        )
        if not _FILENAME.match(filename):
            raise unknown
        entry = await self._cdrs.recording(caller.company_id, filename)
        if entry is None:
            raise unknown
        if entry.purged:
            raise BusinessError(
                Refusal.RECORDING_PURGED,
                f"Recording {filename} was deleted: recordings are kept "
                f"{self._retention.days} days",
            )
        if not (self._company_dir(caller.company_code) / filename).is_file():
            raise BusinessError(
                Refusal.RECORDING_UNAVAILABLE, f"Recording {filename} is not available"
            )
        expires = datetime.fromtimestamp(int((self._clock.now() + self._link_ttl).timestamp()), UTC)
        return self._signed_link(caller.company_code, filename, expires), expires

    def lasting_link(self, company_code: int, filename: str) -> str:
        """A download link good as long as the recording is kept (pushed with a call's
        record, which the company may store and open days later)."""
        return self._signed_link(company_code, filename, self._clock.now() + self._retention)

    def _signed_link(self, company_code: int, filename: str, until: datetime) -> str:
        expires = int(until.timestamp())
        path = f"{ROUTE_PREFIX}/{company_code}/{filename}"
        query = urlencode({"expires": expires, "sig": self._sign(path, expires)})
        return f"{self._public_url}{path}?{query}"

    def signed_file(self, company: str, filename: str, expires: str, sig: str) -> Path:
        """The file a download link names, if its signature holds and it has not expired:
        Forbidden otherwise, NotFound if the recording has since been deleted."""
        refused = Forbidden("invalid or expired download link")
        if not (_COMPANY.match(company) and _FILENAME.match(filename) and expires.isascii()):
            raise refused
        if not expires.isdigit() or len(expires) > 12:
            raise refused
        expected = self._sign(f"{ROUTE_PREFIX}/{company}/{filename}", int(expires))
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            raise refused
        if self._clock.now().timestamp() >= int(expires):
            raise refused
        path = self._root / company / filename
        if not path.is_file():
            raise NotFound("the recording no longer exists")
        return path

    async def purge(self) -> int:
        """Delete recordings of calls older than the retention period and mark them gone;
        returns how many. Also removes stray files of days wholly past the retention."""
        now = self._clock.now()
        cutoff = now - self._retention
        purged = 0
        while True:
            batch = await self._cdrs.recordings_started_before(cutoff, _PURGE_BATCH)
            if not batch:
                break
            await asyncio.to_thread(self._delete, batch)
            await self._cdrs.mark_recordings_purged([e.cdr_id for e in batch], now)
            purged += len(batch)
        await asyncio.to_thread(self._delete_days_before, f"{cutoff.astimezone(UTC):%Y%m%d}")
        if purged:
            log.info("recordings purged", extra={"count": purged})
        return purged

    def _company_dir(self, company_code: int) -> Path:
        return self._root / str(int(company_code))

    def _sign(self, path: str, expires: int) -> str:
        if self._key is None:
            self._key = self._secret().encode()
        message = f"{path}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def _delete(self, entries: list[RecordingEntry]) -> None:
        for entry in entries:
            if _FILENAME.match(entry.recordfilename):
                (self._company_dir(entry.companycode) / entry.recordfilename).unlink(
                    missing_ok=True
                )

    def _delete_days_before(self, first_kept_day: str) -> None:
        """Files left without a call record (say, the server stopped mid-call)."""
        if not self._root.is_dir():
            return
        for company in self._root.iterdir():
            if not company.is_dir():
                continue
            for day in company.iterdir():
                if not (day.is_dir() and _DAY.match(day.name) and day.name < first_kept_day):
                    continue
                for file in day.iterdir():
                    if file.is_file():
                        file.unlink(missing_ok=True)
                try:
                    day.rmdir()
                except OSError:
                    log.warning("could not remove %s", day)
