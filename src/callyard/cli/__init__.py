"""The `callyard` command."""
