"""`GET /recordings/...`: the signed download links GetRecodeFile hands out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from callyard.services.recordings import ROUTE_PREFIX, RecordingService


def router(recordings: RecordingService) -> APIRouter:
    """The recording download route; no API token, the link's signature is the credential."""
    routes = APIRouter(prefix=ROUTE_PREFIX, tags=["recordings"])

    @routes.get(
        "/{company}/{filename:path}",
        response_class=FileResponse,
        responses={
            200: {"content": {"audio/wav": {}}, "description": "the recording"},
            403: {"description": "altered, foreign or expired link"},
            404: {"description": "the recording has been deleted"},
        },
    )
    async def download_recording(company: str, filename: str, request: Request) -> FileResponse:
        """A call recording (WAV), while its link from App.Sip_Cdr.GetRecodeFile is valid."""
        query = request.query_params
        path = recordings.signed_file(
            company, filename, query.get("expires", ""), query.get("sig", "")
        )
        return FileResponse(
            path,
            media_type="audio/wav",
            filename=path.name,
            headers={"Cache-Control": "private, no-store"},
        )

    return routes
