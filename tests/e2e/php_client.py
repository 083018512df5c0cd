"""The PHP client the API documentation's examples use, as the tests run it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from callyard.testing.server import Server

PHP = Path(__file__).parent / "php" / "call.php"


def php(server: Server, fields: dict[str, Any]) -> dict[str, Any]:
    """One App.Sip_* request sent the way the API documentation's PHP examples send it."""
    result = subprocess.run(
        ["php", str(PHP), server.url, json.dumps(fields)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    reply: dict[str, Any] = json.loads(result.stdout)
    return reply
