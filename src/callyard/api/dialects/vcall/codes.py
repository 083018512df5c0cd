"""The vcall API's codes of callyard's refusals.

The seed documents one business code besides success and `-1`: `1005009`, the refusal of
an agent's enablement change or reset (catalog M6.4, M6.5). Every other refusal is the
module's failure code with the reason in `msg`.
"""

from __future__ import annotations

from callyard.domain.refusals import Refusal

REFUSALS: dict[Refusal, int] = {
    Refusal.AGENT_IN_CALL: 1005009,
}
