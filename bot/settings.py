"""Settings for xiaoer, read once in `main()` from the environment and `.env`.

Every field can be set as `XIAOER_<SECTION>__<FIELD>`, e.g. `XIAOER_TELEGRAM__TOKEN` or
`XIAOER_NLP__WRITER__MODEL`. `.env.example` documents them all.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as PydanticSettingsError

from nlp.config import NLPConfig


class TelegramConfig(BaseModel):
    token: SecretStr | None = None  # from @BotFather; needed only by `xiaoer run` / `webhook`
    base_url: str = "https://api.telegram.org/bot"  # a self-hosted Bot API server lifts file limits
    base_file_url: str = "https://api.telegram.org/file/bot"
    webhook_url: str | None = None  # public https URL for `xiaoer webhook`
    webhook_secret: SecretStr | None = None  # checked on every webhook call
    listen: str = "127.0.0.1"
    port: int = Field(8443, ge=1, le=65535)
    timeout_s: float = Field(10.0, gt=0)  # connect/read/write timeout of one Bot API call

    @field_validator("token")
    @classmethod
    def _token_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value():
            return None
        number, _, secret = v.get_secret_value().partition(":")
        if not number.isdigit() or len(secret) < 20:
            raise ValueError("does not look like a BotFather token ('123456:ABC...')")
        return v

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, v: SecretStr | None) -> SecretStr | None:
        # Telegram accepts 1-256 of A-Z a-z 0-9 _ -; a short one can be guessed, and the logs
        # cannot mask it without garbling other text (bot/logs.py masks 8 characters and more)
        if v is None or not v.get_secret_value():
            return None
        if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", v.get_secret_value()):
            raise ValueError("must be 16-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return v


class StorageConfig(BaseModel):
    # one SQLite file holds everything; validate_default so that the default "~" is expanded too
    path: Path = Field(Path("~/.local/share/xiaoer/xiaoer.sqlite3"), validate_default=True)
    busy_timeout_ms: int = Field(5000, ge=0)

    @field_validator("path")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser()


class LimitsConfig(BaseModel):
    max_review_chars: int = Field(2000, ge=10)  # one review
    max_reviews_per_message: int = Field(50, ge=1)  # pasted at once
    max_message_chars: int = Field(20000, ge=100)  # one pasted message or console entry
    max_file_bytes: int = Field(20 * 1024 * 1024, ge=1024)  # uploaded review exports
    max_file_rows: int = Field(100_000, ge=1)
    requests_per_minute: int = Field(20, ge=1)  # per user, model calls


class AccessConfig(BaseModel):
    # Who may use the bot: these ids, the admins and the users an admin let in with /allow.
    allowed_user_ids: list[int] = []
    # May /allow, /deny and /stats. With no admin at all, `xiaoer run` prints a one-time claim code.
    admin_user_ids: list[int] = []
    open: bool = False  # true: every Telegram user may use the bot (start-up warns loudly)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="XIAOER_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    log_level: str = "INFO"
    log_contents: bool = False  # true: DEBUG logs keep message texts and updates (customer data)
    telegram: TelegramConfig = TelegramConfig()
    nlp: NLPConfig = NLPConfig()
    storage: StorageConfig = StorageConfig()
    limits: LimitsConfig = LimitsConfig()
    access: AccessConfig = AccessConfig()


class SettingsError(Exception):
    """The configuration is invalid; the message names each bad setting and its env variable."""


def _env_name(loc: tuple[int | str, ...]) -> str:
    """`("access", "allowed_user_ids", 1)` -> `XIAOER_ACCESS__ALLOWED_USER_IDS (item 1)`."""
    model: type[BaseModel] | None = Settings
    names: list[str] = []
    for i, part in enumerate(loc):
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            rest = ", ".join(str(p) for p in loc[i:])
            return f"XIAOER_{'__'.join(names).upper()} (item {rest})"
        names.append(part)
        ann = model.model_fields[part].annotation
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return f"XIAOER_{'__'.join(names).upper()}"


def load_settings(env_file: Path | None = Path(".env")) -> Settings:
    """Read settings; turn pydantic's error into one that names the env variables."""
    try:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as exc:
        lines = [f"  {_env_name(tuple(err['loc']))}: {err['msg']}" for err in exc.errors()]
        raise SettingsError("invalid configuration:\n" + "\n".join(lines)) from None
    except PydanticSettingsError as exc:  # a list/dict value that is not JSON, e.g. "1,2"
        raise SettingsError(
            f"invalid configuration: {exc}: {exc.__cause__}; lists and dicts are JSON, e.g. "
            "XIAOER_ACCESS__ALLOWED_USER_IDS='[1, 2]'"
        ) from None
