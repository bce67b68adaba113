"""The Slack app manifest: scopes, the ``/paper`` command and the events, in one paste.

``deploy/slack-app-manifest.yml`` is :func:`manifest_yaml` for Socket Mode (a test keeps them equal);
``paperbot slack manifest --request-url https://host/slack/events`` prints the HTTP-mode variant.
"""

from __future__ import annotations

#: Bot scopes and what each is for (the least paperbot needs).
BOT_SCOPES = (
    ("chat:write", "post digests and answers"),
    ("commands", "the /paper command"),
    ("reactions:read", "reaction votes (events and reactions.get)"),
    ("reactions:write", "add the vote reactions under each paper"),
    ("channels:history", "find a message whose outcome was unknown, reconcile votes (public channels)"),
    ("groups:history", "the same in private channels"),
    ("users:read", "check at run time that a user is a workspace admin or owner"),
)
BOT_EVENTS = ("reaction_added", "reaction_removed")
USAGE_HINT = "search 검색어 | today | top week | show 2404.12345 | subscribe | config | status | help"


def manifest_yaml(request_url: str | None = None) -> str:
    """The manifest; Socket Mode unless ``request_url`` (HTTP mode: Slack signs every request to it)."""
    if request_url is not None and not request_url.startswith("https://"):
        raise ValueError("the request URL must be https://…/slack/events")
    mode = "HTTP mode" if request_url else "Socket Mode (no public URL needed)"
    command_url = f"\n      url: {request_url}" if request_url else ""
    events_url = f"\n    request_url: {request_url}" if request_url else ""
    scopes = "\n".join(f"      - {scope}  # {why}" for scope, why in BOT_SCOPES)
    events = "\n".join(f"      - {event}" for event in BOT_EVENTS)
    return f"""# paperbot Slack app, {mode}.
# Create it at https://api.slack.com/apps -> Create New App -> From an app manifest, paste this file, install it
# to the workspace, then set PAPERBOT_SLACK_BOT_TOKEN (xoxb-…) and, for Socket Mode, an app-level token with the
# connections:write scope as PAPERBOT_SLACK_APP_TOKEN (xapp-…); for HTTP mode PAPERBOT_SLACK_SIGNING_SECRET.
# Invite the bot to each channel that should get digests (/invite @paperbot).
display_information:
  name: paperbot
  description: Hugging Face Daily Papers와 AI 블로그 새 글의 한국어 요약 다이제스트
  background_color: "#1d1c1d"
features:
  bot_user:
    display_name: paperbot
    always_online: true
  slash_commands:
    - command: /paper{command_url}
      description: 논문 검색, 오늘 다이제스트, 인기 논문, 구독과 필터 관리
      usage_hint: "{USAGE_HINT}"
      should_escape: false
oauth_config:
  scopes:
    bot:
{scopes}
settings:
  event_subscriptions:{events_url}
    bot_events:
{events}
  interactivity:
    is_enabled: false
  org_deploy_enabled: false
  socket_mode_enabled: {"false" if request_url else "true"}
  token_rotation_enabled: false
"""
