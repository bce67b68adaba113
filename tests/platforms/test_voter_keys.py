"""Voter keys and hashes: one derivation for both platforms, the same keys as deployed before it was shared."""

from __future__ import annotations

import hashlib

import pytest

from paperbot.platforms.discord.bot import discord_hasher
from paperbot.platforms.slack.votes import slack_hasher
from paperbot.service.votes import voter_key

# The keys the two platforms derived before the derivation moved to the service, written out by hand: a change
# here would re-key every stored voter, and old votes would count again as new voters'.
DEPLOYED_DISCORD_SALTED = hashlib.sha256(b"paperbot-votes:install-secret").digest()
DEPLOYED_DISCORD_UNSALTED = hashlib.sha256(b"paperbot-votes:MTIzNDU2Nzg5MDEyMzQ1Njc4").digest()
DEPLOYED_SLACK_SALTED = hashlib.sha256(b"paperbot-votes:slack:install-secret").digest()
DEPLOYED_SLACK_UNSALTED = hashlib.sha256(b"paperbot-votes:slack:T0TEAM001:UBOT0001").digest()


def test_keys_are_the_ones_deployed() -> None:
    assert voter_key("discord", "install-secret", "MTIzNDU2Nzg5MDEyMzQ1Njc4") == DEPLOYED_DISCORD_SALTED
    assert voter_key("discord", None, "MTIzNDU2Nzg5MDEyMzQ1Njc4") == DEPLOYED_DISCORD_UNSALTED
    assert voter_key("slack", "install-secret", "T0TEAM001:UBOT0001") == DEPLOYED_SLACK_SALTED
    assert voter_key("slack", "", "T0TEAM001:UBOT0001") == DEPLOYED_SLACK_UNSALTED


def test_the_composition_root_derives_the_deployed_keys() -> None:
    """The Slack key moved from the runner to the composition root: from the salt, else auth.test's identity."""
    from paperbot.bootstrap import slack_voter_key
    from paperbot.config import Settings
    from paperbot.platforms.slack.api import Identity

    identity = Identity(user_id="UBOT0001", team_id="T0TEAM001", bot_id="BBOT0001")
    assert slack_voter_key(Settings(vote_salt="install-secret"), identity) == DEPLOYED_SLACK_SALTED
    assert slack_voter_key(Settings(), identity) == DEPLOYED_SLACK_UNSALTED


def test_one_person_never_hashes_alike_on_two_platforms_and_raw_ids_are_not_stored() -> None:
    key = voter_key("discord", "install-secret", "unused")
    on_discord = discord_hasher(key)("123456789012345678")
    on_slack = slack_hasher(key)("T0TEAM001", "123456789012345678")
    assert on_discord != on_slack
    assert len(on_discord) == 32 and "123456789012345678" not in on_discord
    assert discord_hasher(key)("123456789012345678") == on_discord  # stable


def test_a_key_needs_a_secret_or_an_identity() -> None:
    with pytest.raises(ValueError, match="identity"):
        voter_key("slack", None, "")
    with pytest.raises(KeyError):
        voter_key("console", "secret", "x")
