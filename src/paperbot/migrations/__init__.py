"""Alembic migrations of paperbot's schema (shipped inside the package so ``paperbot db`` works anywhere)."""
