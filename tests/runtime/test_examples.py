"""paperbot.example.toml and .env.example document every setting and load as they are."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from paperbot.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented_in_the_example_toml() -> None:
    text = (ROOT / "paperbot.example.toml").read_text(encoding="utf-8")
    keys = set(re.findall(r"^#?\s*\[?\[?([a-z_]+)\]?\]?\s*(?:=|:)", text, flags=re.MULTILINE))
    missing = sorted(name for name in Settings.model_fields if name not in keys)
    assert missing == []


def test_the_example_toml_loads_and_matches_the_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("PAPERBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PAPERBOT_CONFIG", str(ROOT / "paperbot.example.toml"))
    settings = load_settings(cwd=tmp_path)
    defaults = Settings()
    for name in Settings.model_fields:
        if name != "config":
            assert getattr(settings, name) == getattr(defaults, name), name


def test_env_example_names_every_setting_and_its_values_load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    named = set(re.findall(r"^(?:#\s*)?PAPERBOT_([A-Z_]+)", text, flags=re.MULTILINE))
    missing = sorted(name for name in Settings.model_fields if name.upper() not in named)
    assert missing == []
    for name in list(os.environ):
        if name.upper().startswith("PAPERBOT_"):
            monkeypatch.delenv(name)
    for line in text.splitlines():
        if line.startswith("PAPERBOT_"):
            key, _, value = line.partition("=")
            assert value, f"{key} is set to an empty value: comment it out instead"
            monkeypatch.setenv(key, value)
    settings = load_settings(cwd=tmp_path)
    assert settings.discord_token is None and settings.llm_api_key is None and settings.vote_salt is None
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.hf_collect_hours == [0, 1, 2, 3, 6, 12, 18]
