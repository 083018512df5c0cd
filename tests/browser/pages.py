"""Pages of the browser tests: a customer's own web server for its static pages (each
`{{callyard}}` in a page is the callyard server's host and port, the one thing a customer
changes), and pages that load the SDKs from the build for tests of their logic."""

from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from playwright.sync_api import Page

from callyard.web import Sdk

DATA = Path(__file__).with_name("data")


class _Pages(SimpleHTTPRequestHandler):
    def __init__(self, *args: Any, callyard: str, **kwargs: Any) -> None:
        self.callyard = callyard
        super().__init__(*args, directory=str(DATA), **kwargs)

    def do_GET(self) -> None:
        path = DATA / self.path.split("?")[0].lstrip("/")
        if path.suffix != ".html" or not path.is_file():
            super().do_GET()
            return
        body = path.read_text().replace("{{callyard}}", self.callyard).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class CustomerSite:
    """The customer's web server on loopback, serving `tests/browser/data`."""

    def __init__(self, callyard_url: str) -> None:
        host = callyard_url.removeprefix("http://")
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Pages, callyard=host))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> CustomerSite:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


def blank_page_with(page: Page, sdk: Sdk, stand_in: str) -> Page:
    """`page` with the built `sdk` loaded, after the tests' `until` and the stand-in
    script `stand_in` of `tests/browser/data`."""
    page.set_content("<!doctype html><html><body></body></html>")
    for script in ("until.js", stand_in):
        page.add_script_tag(path=str(DATA / script))
    page.add_script_tag(path=str(sdk.built))
    return page
