"""callyard's own words for calls, agents, tasks and failures.

Services, the switch and the dialer speak only these; each vendor dialect maps them
onto its own code tables (`api/dialects/<vendor>/codes.py`).
"""
