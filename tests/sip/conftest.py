"""Tests marked `sip` start real SIP processes (baresip, SIPp) on loopback.

They run only inside a network namespace whose only interface is loopback (scripts/test
runs pytest under `unshare -n`) and with the tools installed (scripts/install --dev).
Otherwise they are skipped locally, and fail in CI (where `CI` is set). A test that also
uses phones of tests/sip/phones.py says which with `@pytest.mark.phone("linphone", ...)`
(one marker per parameter of a parametrized test): only such tests need those phones.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest

from callyard.testing.sip import (
    BARESIP_MODULES,
    G711A_PCAP,
    TOOLS,
    isolated_network,
    missing_tools,
    network_interfaces,
)
from tests.sip.phones import missing_phones

BARESIP_MODULES_USED = ("g711", "aufile", "aubridge", "sndfile", "account", "menu", "ctrl_tcp")


def sip_unavailable(phones: Sequence[str] = ()) -> str | None:
    """Why the SIP tests (with these phones) cannot run here, or None."""
    missing = missing_tools(TOOLS) + missing_phones(phones)
    missing += [
        f"baresip module {name}"
        for name in BARESIP_MODULES_USED
        if not (BARESIP_MODULES / f"{name}.so").is_file()
    ]
    if not G711A_PCAP.is_file():
        missing.append(str(G711A_PCAP))
    if missing:
        return f"missing {', '.join(missing)} (scripts/install --dev installs them)"
    if not isolated_network():
        return (
            f"not in an isolated network namespace (interfaces: "
            f"{', '.join(network_interfaces())}); scripts/test runs pytest under unshare -n"
        )
    return None


@pytest.fixture(autouse=True)
def _sip_environment(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("sip") is None:
        return
    phones = [name for marker in request.node.iter_markers("phone") for name in marker.args]
    reason = sip_unavailable(phones)
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"SIP tests cannot run in CI: {reason}")
    pytest.skip(reason)
