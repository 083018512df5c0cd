"""The predictive dialer: pacing of outbound campaign calls (`pacing`), the baseline
pacers it is measured against (`baselines`) and a virtual-time simulation of a campaign
floor (`simulation`)."""
