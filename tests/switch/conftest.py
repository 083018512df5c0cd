"""The switch's end-to-end tests use the SIP harness's environment check and a running
callyard (`pbx`)."""

from tests.sip.conftest import _sip_environment
from tests.switch.pbx import pbx, receiver

__all__ = ["_sip_environment", "pbx", "receiver"]
