"""The web archive: every paper and post the bot has seen, browsable and searchable, with the team's votes.

An edge beside ``platforms/``: it parses HTTP requests, calls the read-only use cases of
:mod:`paperbot.service.archive` and renders HTML. It imports no SQL and no store (an import-linter contract).
"""
