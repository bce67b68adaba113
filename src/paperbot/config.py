"""Settings: secrets from the environment (``PAPERBOT_*``), structure from ``paperbot.toml``.

The environment overrides the file. Nothing here reads the environment at import time: the CLI calls
:func:`load_settings` once and passes the result down. Every failure is a :class:`ConfigError` that names the
key, so the CLI can print one line and exit 2.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from paperbot.errors import ConfigError

ENV_PREFIX = "PAPERBOT_"
DEFAULT_CONFIG_FILE = "paperbot.toml"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./paperbot.db"

#: Async drivers we install and test, by URL scheme.
ASYNC_DATABASE_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg", "postgresql+psycopg")
#: Plain schemes users naturally write, mapped to the async driver we ship.
_SCHEME_ALIASES = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}
_URL_RE = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)$", re.DOTALL)
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def normalize_database_url(url: str) -> str:
    """Map plain ``postgresql://``/``sqlite://`` URLs to their async driver; reject what we cannot drive."""
    match = _URL_RE.match(url.strip())
    if match is None:
        raise ValueError("not a database URL (expected e.g. sqlite+aiosqlite:///./paperbot.db)")
    scheme = match["scheme"].lower()
    scheme = _SCHEME_ALIASES.get(scheme, scheme)
    if scheme not in ASYNC_DATABASE_SCHEMES:
        raise ValueError(f"unsupported driver {match['scheme']!r} (use one of: {', '.join(ASYNC_DATABASE_SCHEMES)})")
    rest = match["rest"]
    if scheme.startswith("postgresql") and not rest.strip("/"):
        raise ValueError("the PostgreSQL URL names no host or database")
    if scheme.startswith("sqlite") and not rest.startswith("/"):
        raise ValueError("a SQLite URL needs a path, e.g. sqlite+aiosqlite:///./paperbot.db")
    return f"{scheme}://{rest}"


class SourceConfig(BaseModel):
    """One ``[[sources]]`` table: a new source, or ``name`` of a built-in to override or disable (issue 3)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    type: str | None = None
    url: str | None = None
    title: str | None = None
    enabled: bool = True
    first_fetch_limit: int | None = Field(None, ge=0)
    link_pattern: str | None = None
    #: Shown beside the source's posts (``Title (2024.11.01, AWS)``); "" for a personal blog (the date alone).
    #: Unset: a built-in keeps its own, a new source shows its title, else its URL's host.
    company: str | None = Field(None, max_length=64)


class Settings(BaseSettings):
    """All of paperbot's settings. Field ``x`` is ``PAPERBOT_X`` in the environment and ``x`` in the TOML file."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        case_sensitive=False,
        validate_default=True,
    )

    # --- core -------------------------------------------------------------------------------------------------
    database_url: str = Field(DEFAULT_DATABASE_URL, description="SQLAlchemy async URL of the database")
    config: Path | None = Field(None, description="the TOML file these settings were read from, if any")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL")
    log_format: Literal["auto", "text", "json"] = Field(
        "auto", description="text, json, or auto (text on a terminal, JSON otherwise)"
    )
    timezone: str = Field("Asia/Seoul", description="default timezone for 'today' and schedules")

    # --- sources (issue 3) --------------------------------------------------------------------------------------
    hf_base_url: str = Field("https://huggingface.co", description="base URL of the Hugging Face Hub")
    allow_private_networks: bool = Field(False, description="allow feeds on private/loopback addresses")
    sources: list[SourceConfig] = Field(
        default_factory=list, description="extra or overridden sources ([[sources]] tables)"
    )
    http_timeout: float = Field(20.0, gt=0, description="seconds to connect / read / write one HTTP request")
    http_contact: str | None = Field(None, description="contact (URL or e-mail) added to the User-Agent")
    http_max_bytes: int = Field(10_000_000, ge=1024, description="largest response body accepted, in bytes")
    http_retries: int = Field(3, ge=1, le=10, description="attempts per request (429/5xx/network errors)")
    http_retry_max_wait: float = Field(60.0, ge=0, description="longest wait between attempts (caps Retry-After)")
    http_host_interval: float = Field(1.0, ge=0, description="minimum seconds between requests to one host")
    source_deadline: float = Field(120.0, gt=0, description="overall seconds one source may take per collect")
    source_degraded_after: int = Field(3, ge=1, description="consecutive failures before a source is degraded")
    feed_first_fetch_limit: int = Field(3, ge=0, description="newest posts published on a feed's first fetch")
    hf_refresh_days: int = Field(3, ge=0, le=30, description="days whose HF upvotes are refreshed on schedule")
    search_analyzer: Literal["fallback", "kiwi"] = Field(
        "fallback", description="Korean analyser of the search index: fallback, or kiwi (~300 MB more; reindex)"
    )
    article_fetch: bool = Field(True, description="fetch each shown blog post's own page for its main text")
    article_deadline: float = Field(20.0, gt=0, description="seconds one post's page may take (fetch + extraction)")

    # --- summaries (issue 4) ------------------------------------------------------------------------------------
    llm_provider: Literal["offline", "openai_compat", "anthropic"] = "offline"
    #: The long-running bot never loads Kiwi by default: loading it holds the GIL for 1-7 s (the event loop stalls,
    #: even from a worker thread) and costs ~350 MB, while on the silver sample both ending repairs accept the same
    #: 39 of 45 answers and write 215 of 218 kept bullets identically (Kiwi reads 2 nominal endings better).
    summary_endings: Literal["rules", "kiwi"] = Field(
        "rules", description="how LLM answers' endings are made formal: rules (a table), or kiwi (~350 MB more)"
    )
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    llm_concurrency: int = Field(4, ge=1, le=64)
    llm_daily_budget_usd: float | None = Field(
        1.0, ge=0, description="USD a day for LLM calls; past it, items get the offline summary ('none': no limit)"
    )
    llm_auth_header: Literal["bearer", "api-key", "x-api-key", "none"] = Field(
        "bearer", description="how the key is sent: Authorization: Bearer (OpenAI, vLLM…) or api-key (Azure)"
    )
    llm_api_version: str | None = Field(None, description="api-version query parameter (Azure); anthropic-version")
    llm_structured_output: Literal["json_schema", "json_object", "none"] = Field(
        "json_schema", description="response_format sent to openai_compat (anthropic: json_schema uses a tool)"
    )
    llm_max_tokens_param: str = Field("max_tokens", description="max_tokens or max_completion_tokens")
    llm_max_tokens: int = Field(1200, ge=64, le=32_000)
    llm_temperature: float | None = Field(0.2, ge=0, le=2, description="omitted from the request when unset")
    llm_extra_body: dict[str, Any] = Field(default_factory=dict, description="extra fields merged into each request")
    llm_timeout: float = Field(60.0, gt=0, description="seconds one LLM request may take, the whole answer read")
    llm_retries: int = Field(1, ge=0, le=5, description="retries of a request that failed (timeout, 429, 5xx)")
    llm_repair_retries: int = Field(1, ge=0, le=3, description="repair turns after an answer the gate rejected")
    llm_max_response_bytes: int = Field(4_000_000, ge=10_000, description="largest answer body read from the LLM")
    llm_max_retry_after: float = Field(30.0, ge=0, description="longest Retry-After honoured before falling back")
    llm_max_input_chars: int = Field(4000, ge=200, description="abstracts are cut to this many characters")
    llm_prices: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="USD per million tokens (input, output) by model; adds to the built-ins"
    )

    # --- platforms (issues 6, 7) --------------------------------------------------------------------------------
    discord_token: SecretStr | None = None
    discord_api_base: str = "https://discord.com/api/v10"
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_base: str = "https://slack.com/api/"
    slack_http_port: int | None = Field(None, ge=1, le=65535, description="Slack HTTP mode port (default: Socket Mode)")
    slack_admin_users: list[str] = Field(default_factory=list, description="Slack user ids allowed admin commands")
    vote_salt: SecretStr | None = Field(
        None, description="secret key for hashing voter ids (set it once per install and keep it)"
    )

    # --- runtime (issue 8) --------------------------------------------------------------------------------------
    http_port: int | None = Field(None, ge=1, le=65535)
    lease_ttl: float = Field(30.0, ge=3, description="seconds the leader lease lasts; a standby takes over after it")
    catch_up_hours: float = Field(
        24.0, ge=0, description="a digest slot missed within this many hours is posted at start; older ones skipped"
    )
    job_deadline: float = Field(900.0, gt=0, description="overall seconds one scheduled job may take")
    hf_collect_hours: list[int] = Field(
        default_factory=lambda: [0, 1, 2, 3, 6, 12, 18], description="UTC hours at which HF Daily Papers are collected"
    )
    upvote_refresh_hour: int = Field(4, ge=0, le=23, description="UTC hour of the daily HF upvote refresh")

    # --- web archive (issue 18) ---------------------------------------------------------------------------------
    http_host: str = Field(
        "127.0.0.1", min_length=1, description="address the HTTP port binds (archive, /healthz, /metrics)"
    )
    web_base_url: str | None = Field(
        None, description="public URL of the web archive; digests and /paper search link to it"
    )
    web_token: SecretStr | None = Field(
        None, description="access token of a private archive (Authorization: Bearer, or once as ?token=)"
    )

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("web_base_url")
    @classmethod
    def _check_web_base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("must be an http(s) URL without query or fragment, e.g. https://papers.example.com")
        if any(ch.isspace() or ch in "<>|\"'`\\" for ch in value.strip()):
            raise ValueError("must not contain spaces, quotes or <>|")
        return value.strip().rstrip("/")

    @field_validator("web_token")
    @classmethod
    def _check_web_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        if len(value.get_secret_value()) < 16:
            raise ValueError(
                "must be at least 16 characters (e.g. python -c 'import secrets; print(secrets.token_urlsafe())')"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in _LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(_LOG_LEVELS)}")
        return level

    @field_validator("llm_daily_budget_usd", mode="before")
    @classmethod
    def _no_budget(cls, value: Any) -> Any:
        """``none``/``off``/empty: no daily limit (the default is a limit)."""
        if isinstance(value, str) and value.strip().lower() in ("", "none", "off", "unlimited"):
            return None
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (use an IANA name such as Asia/Seoul)") from None
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first: it overrides the TOML file, whose values arrive as init arguments.
        return (env_settings, init_settings)


def _flatten_toml(data: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """Turn ``[llm] model = "x"`` into ``llm_model = "x"``; keep fields that are structured as they are."""
    fields = Settings.model_fields
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if key in fields:
            flat[key] = value
        elif isinstance(value, Mapping):
            for sub_key, sub_value in value.items():
                flat[f"{key}_{sub_key}"] = sub_value
        else:
            flat[key] = value  # unknown: validation names it
    return flat


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML config file into Settings' flat keys; errors name the file and the problem."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist", key="PAPERBOT_CONFIG") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}", key="PAPERBOT_CONFIG") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}", key="PAPERBOT_CONFIG") from None
    return _flatten_toml(data, path)


def _describe(error: Mapping[str, Any], from_env: set[str]) -> tuple[str, str]:
    loc = [str(part) for part in error.get("loc", ())]
    field = loc[0] if loc else "?"
    env_name = f"{ENV_PREFIX}{field.upper()}"
    key = env_name if field in from_env else field
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    if error.get("type") == "extra_forbidden":
        message = "unknown setting"
    if len(loc) > 1:
        key = f"{key}.{'.'.join(loc[1:])}"
    return key, message


def load_settings(*, cwd: Path | None = None) -> Settings:
    """Build Settings from ``PAPERBOT_*`` variables and the TOML file (``PAPERBOT_CONFIG`` or ./paperbot.toml)."""
    base = cwd or Path.cwd()
    explicit = os.environ.get(f"{ENV_PREFIX}CONFIG")
    config_path: Path | None
    if explicit:
        config_path = Path(explicit)
        if not config_path.is_absolute():
            config_path = base / config_path
    else:
        default = base / DEFAULT_CONFIG_FILE
        config_path = default if default.exists() else None
    file_values = read_config_file(config_path) if config_path else {}
    from_env = {name[len(ENV_PREFIX) :].lower() for name in os.environ if name.upper().startswith(ENV_PREFIX)}
    from_env.discard("config")
    try:
        settings = Settings(**file_values)
    except ValidationError as exc:
        first = exc.errors()[0]
        key, message = _describe(first, from_env)
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{key}: {message}{more}", key=key) from None
    return settings.model_copy(update={"config": config_path})
