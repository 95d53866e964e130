"""Alembic migrations of the state schema, run programmatically by `StateStore` on open."""
