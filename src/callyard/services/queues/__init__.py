"""Inbound queues: callers of a group's number wait in order and are offered to the
group's ready agents by its ring policy (automatic call distribution)."""
