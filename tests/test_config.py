"""Settings: defaults, environment over file, URL mapping, and one readable error per bad setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperbot.config import DEFAULT_DATABASE_URL, load_settings, normalize_database_url
from paperbot.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    import os

    for name in list(os.environ):
        if name.startswith("PAPERBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_need_no_file_and_no_environment() -> None:
    settings = load_settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.config is None
    assert settings.llm_provider == "offline"
    assert settings.log_level == "INFO"
    assert settings.timezone == "Asia/Seoul"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/paperbot", "postgresql+asyncpg://u:p@db:5432/paperbot"),
        ("postgres://db/paperbot", "postgresql+asyncpg://db/paperbot"),
        ("postgresql+psycopg://db/paperbot", "postgresql+psycopg://db/paperbot"),
        ("sqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
        ("sqlite+aiosqlite:////abs/x.db", "sqlite+aiosqlite:////abs/x.db"),
    ],
)
def test_database_urls_map_to_async_drivers(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


@pytest.mark.parametrize("bad", ["nonsense", "mysql://db/x", "postgresql+psycopg2://db/x", "postgresql://", "sqlite:"])
def test_bad_database_urls_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match=r".+"):
        normalize_database_url(bad)


def test_environment_overrides_the_toml_file(monkeypatch: pytest.MonkeyPatch, clean_env: Path) -> None:
    (clean_env / "paperbot.toml").write_text(
        'log_level = "debug"\ndatabase_url = "sqlite:///from-file.db"\n\n[llm]\nmodel = "file-model"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("PAPERBOT_DATABASE_URL", "postgresql://db/env")
    settings = load_settings()
    assert settings.config == clean_env / "paperbot.toml"
    assert settings.log_level == "DEBUG"  # from the file, normalised
    assert settings.llm_model == "file-model"  # [llm] model → llm_model
    assert settings.database_url == "postgresql+asyncpg://db/env"  # environment wins


def test_secrets_are_secret_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOT_DISCORD_TOKEN", "sentinel-token-123")
    settings = load_settings()
    assert settings.discord_token is not None
    assert settings.discord_token.get_secret_value() == "sentinel-token-123"
    assert "sentinel-token-123" not in repr(settings)
    assert "sentinel-token-123" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PAPERBOT_DATABASE_URL", "nonsense", "PAPERBOT_DATABASE_URL: not a database URL"),
        ("PAPERBOT_LOG_LEVEL", "loud", "PAPERBOT_LOG_LEVEL: must be one of"),
        ("PAPERBOT_LOG_FORMAT", "xml", "PAPERBOT_LOG_FORMAT:"),
        ("PAPERBOT_LLM_CONCURRENCY", "0", "PAPERBOT_LLM_CONCURRENCY:"),
        ("PAPERBOT_TIMEZONE", "Mars/Olympus", "PAPERBOT_TIMEZONE: unknown timezone"),
    ],
)
def test_bad_environment_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value).startswith(expected)
    assert "\n" not in str(info.value)
    assert info.value.key == variable


def test_file_errors_name_the_file_and_key(monkeypatch: pytest.MonkeyPatch, clean_env: Path) -> None:
    (clean_env / "bad.toml").write_text("log_level = [unclosed\n", encoding="utf-8")
    monkeypatch.setenv("PAPERBOT_CONFIG", "bad.toml")
    with pytest.raises(ConfigError, match=r"bad\.toml is not valid TOML"):
        load_settings()
    monkeypatch.setenv("PAPERBOT_CONFIG", "missing.toml")
    with pytest.raises(ConfigError, match=r"missing\.toml does not exist"):
        load_settings()
    (clean_env / "typo.toml").write_text('databse_url = "x"\n', encoding="utf-8")
    monkeypatch.setenv("PAPERBOT_CONFIG", str(clean_env / "typo.toml"))
    with pytest.raises(ConfigError, match=r"^databse_url: unknown setting"):
        load_settings()


def test_a_configured_source_names_its_company(clean_env: Path) -> None:
    """``company`` in a ``[[sources]]`` table (issue 15): read as written, "" kept (a personal blog), too long refused."""
    (clean_env / "paperbot.toml").write_text(
        '[[sources]]\nname = "my_lab"\ntype = "feed"\nurl = "https://lab.example.org/feed.xml"\ncompany = "우리 연구소"\n\n'
        '[[sources]]\nname = "jane"\ntype = "feed"\nurl = "https://jane.example.org/feed.xml"\ncompany = ""\n\n'
        '[[sources]]\nname = "plain"\ntype = "feed"\nurl = "https://plain.example.org/feed.xml"\n',
        encoding="utf-8",
    )
    companies = {source.name: source.company for source in load_settings().sources}
    assert companies == {"my_lab": "우리 연구소", "jane": "", "plain": None}
    (clean_env / "paperbot.toml").write_text(
        f'[[sources]]\nname = "x"\ntype = "feed"\nurl = "https://x.example"\ncompany = "{"가" * 65}"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"sources\.0\.company"):
        load_settings()
