"""The switch's end-to-end tests use the SIP harness's environment check."""

from tests.sip.conftest import _sip_environment

__all__ = ["_sip_environment"]
