"""The admin HTTP API (`/admin/...`), the HTTP twin of the admin CLI."""
