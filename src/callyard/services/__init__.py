"""Use cases. Dialects and the admin API call these; they hold every business rule."""
