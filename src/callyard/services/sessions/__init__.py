"""Agents' working sessions: sign-in, readiness, the calls they are offered and make,
and the notices each change publishes (the CTI's events)."""
