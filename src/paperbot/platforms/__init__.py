"""Chat platforms (edges): each parses its inbound events, calls the services and renders the answers.

Platforms are independent of each other and imported lazily, so a Slack-only install never imports discord.py.
"""
