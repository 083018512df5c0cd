"""Persistent storage: SQLAlchemy tables, sessions and Alembic migrations."""
