"""Storage adapters: ``SqlRepository`` (SQLite, PostgreSQL), ``InMemoryRepository``, migrations.

Import the concrete modules (``paperbot.store.sql`` …) where needed: this package's ``__init__`` stays light so
``paperbot --help`` never loads SQLAlchemy.
"""
