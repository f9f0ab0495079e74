"""Tests for bot.settings: defaults, XIAOER_ env variables, .env files, errors, secrets, .env.example."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from bot.settings import Settings, SettingsError, load_settings

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / ".env.example"
TOKEN = "123456789:AAH3fakeFAKEfake_token-0123456789ab"


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No XIAOER_ variable of the caller and no `.env` of the repository may leak in."""
    for name in list(os.environ):
        if name.upper().startswith("XIAOER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def env_names(model: type[BaseModel] = Settings, prefix: str = "XIAOER_") -> set[str]:
    """Every leaf field of `model` as its env variable."""
    names = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= env_names(annotation, f"{prefix}{name.upper()}__")
        else:
            names.add(prefix + name.upper())
    return names


def error_of(**env: str) -> str:
    mp = pytest.MonkeyPatch()
    try:
        for name, value in env.items():
            mp.setenv(name, value)
        with pytest.raises(SettingsError) as info:
            load_settings(None)
    finally:
        mp.undo()
    return str(info.value)


# ---------------------------------------------------------------- defaults


def test_defaults() -> None:
    s = load_settings(None)
    assert s.log_level == "INFO"
    assert s.telegram.token is None
    assert s.telegram.webhook_url is None
    assert s.telegram.webhook_secret is None
    assert s.telegram.base_url == "https://api.telegram.org/bot"
    assert (s.telegram.listen, s.telegram.port) == ("127.0.0.1", 8443)
    assert s.nlp.classifier.model == s.nlp.writer.model == "bundled"
    assert s.nlp.classifier.adapter is None and s.nlp.writer.adapter is None
    assert s.nlp.classifier.dtype == s.nlp.writer.dtype == "auto"
    assert s.nlp.classifier.device_map == "auto"
    assert s.nlp.writer.max_memory is None
    assert (s.nlp.classifier.batch_size, s.nlp.classifier.max_length) == (32, 256)
    assert s.nlp.writer.max_new_tokens == 256
    assert s.nlp.writer.temperature == pytest.approx(0.8)
    assert s.nlp.writer.top_p == pytest.approx(0.9)
    assert s.nlp.writer.repetition_penalty == pytest.approx(1.15)
    assert s.nlp.writer.max_prompt_tokens == 1536
    assert (s.nlp.engine.max_batch, s.nlp.engine.batch_wait_ms, s.nlp.engine.queue_size) == (32, 10, 256)
    assert s.nlp.engine.request_timeout_s == pytest.approx(180.0)
    assert s.storage.busy_timeout_ms == 5000
    assert s.limits.max_review_chars == 2000
    assert s.limits.max_reviews_per_message == 50
    assert s.limits.max_message_chars == 20000
    assert s.limits.max_file_bytes == 20 * 1024 * 1024
    assert s.limits.max_file_rows == 100_000
    assert s.limits.requests_per_minute == 20
    assert s.access.allowed_user_ids == [] and s.access.admin_user_ids == []
    assert s.access.open is False and s.log_contents is False  # secure by default


def test_default_storage_path_is_expanded() -> None:
    path = load_settings(None).storage.path
    assert "~" not in str(path)
    assert path == Path("~/.local/share/xiaoer/xiaoer.sqlite3").expanduser()


def test_default_cache_dir_is_expanded() -> None:
    assert "~" not in str(load_settings(None).nlp.cache_dir)


def test_sections_are_not_shared_between_instances(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOER_ACCESS__ALLOWED_USER_IDS", "[7]")
    assert load_settings(None).access.allowed_user_ids == [7]
    monkeypatch.delenv("XIAOER_ACCESS__ALLOWED_USER_IDS")
    assert load_settings(None).access.allowed_user_ids == []


# ---------------------------------------------------------------- environment


def test_env_prefix_and_nested_delimiter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOER_NLP__WRITER__MODEL", "google/gemma-3-1b-it")
    monkeypatch.setenv("XIAOER_NLP__CLASSIFIER__BATCH_SIZE", "8")
    monkeypatch.setenv("XIAOER_NLP__ENGINE__REQUEST_TIMEOUT_S", "30.5")
    monkeypatch.setenv("XIAOER_NLP__WRITER__MAX_MEMORY", '{"0": "10GiB", "cpu": "20GiB"}')
    monkeypatch.setenv("XIAOER_ACCESS__ALLOWED_USER_IDS", "[1,2]")
    monkeypatch.setenv("XIAOER_LIMITS__MAX_REVIEW_CHARS", "500")
    monkeypatch.setenv("XIAOER_LOG_LEVEL", "DEBUG")
    s = load_settings(None)
    assert s.nlp.writer.model == "google/gemma-3-1b-it"
    assert s.nlp.classifier.model == "bundled"  # the other section keeps its default
    assert s.nlp.classifier.batch_size == 8
    assert s.nlp.engine.request_timeout_s == pytest.approx(30.5)
    assert s.nlp.writer.max_memory == {"0": "10GiB", "cpu": "20GiB"}
    assert s.access.allowed_user_ids == [1, 2]
    assert s.access.admin_user_ids == []
    assert s.limits.max_review_chars == 500
    assert s.limits.max_file_rows == 100_000
    assert s.log_level == "DEBUG"


def test_env_names_are_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("xiaoer_limits__max_review_chars", "300")
    assert load_settings(None).limits.max_review_chars == 300


def test_unprefixed_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    monkeypatch.setenv("LIMITS__MAX_REVIEW_CHARS", "300")
    s = load_settings(None)
    assert s.log_level == "INFO"
    assert s.limits.max_review_chars == 2000


def test_model_name_is_stripped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOER_NLP__WRITER__MODEL", "  /models/gemma.gguf  ")
    assert load_settings(None).nlp.writer.model == "/models/gemma.gguf"


# ---------------------------------------------------------------- .env files


def test_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "custom.env"
    env_file.write_text(
        "# comment\n"
        f"XIAOER_TELEGRAM__TOKEN={TOKEN}\n"
        "XIAOER_NLP__WRITER__TEMPERATURE=0\n"
        "XIAOER_ACCESS__ADMIN_USER_IDS=[42]\n"
        "XIAOER_LIMITS__MAX_FILE_ROWS=500\n"
        "UNRELATED=1\n",
        encoding="utf-8",
    )
    s = load_settings(env_file)
    assert s.telegram.token is not None
    assert s.telegram.token.get_secret_value() == TOKEN
    assert s.nlp.writer.temperature == 0
    assert s.access.admin_user_ids == [42]
    assert s.limits.max_file_rows == 500


def test_dot_env_in_cwd_is_the_default(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("XIAOER_LIMITS__MAX_FILE_ROWS=77\n", encoding="utf-8")
    assert load_settings().limits.max_file_rows == 77
    assert Settings().limits.max_file_rows == 77
    assert load_settings(None).limits.max_file_rows == 100_000  # None: no file at all


def test_environment_overrides_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / "x.env"
    env_file.write_text(
        "XIAOER_LIMITS__MAX_FILE_ROWS=500\nXIAOER_LIMITS__MAX_REVIEW_CHARS=300\n", encoding="utf-8"
    )
    monkeypatch.setenv("XIAOER_LIMITS__MAX_FILE_ROWS", "900")
    s = load_settings(env_file)
    assert s.limits.max_file_rows == 900  # the environment wins
    assert s.limits.max_review_chars == 300  # the file still fills what the environment does not set


def test_bad_value_in_env_file_is_named(tmp_path: Path) -> None:
    env_file = tmp_path / "x.env"
    env_file.write_text("XIAOER_NLP__CLASSIFIER__DTYPE=int8\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="XIAOER_NLP__CLASSIFIER__DTYPE"):
        load_settings(env_file)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("XIAOER_TELEGRAM__TOKEN", "not-a-token"),
        ("XIAOER_TELEGRAM__TOKEN", "abc:AAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ("XIAOER_TELEGRAM__TOKEN", "123456:short"),
        ("XIAOER_TELEGRAM__PORT", "0"),
        ("XIAOER_TELEGRAM__PORT", "https"),
        ("XIAOER_NLP__CLASSIFIER__BATCH_SIZE", "0"),
        ("XIAOER_NLP__CLASSIFIER__MAX_LENGTH", "4096"),
        ("XIAOER_NLP__WRITER__DTYPE", "int8"),
        ("XIAOER_NLP__WRITER__MODEL", "   "),
        ("XIAOER_NLP__WRITER__TOP_P", "0"),
        ("XIAOER_NLP__ENGINE__REQUEST_TIMEOUT_S", "0"),
        ("XIAOER_STORAGE__BUSY_TIMEOUT_MS", "-1"),
        ("XIAOER_LIMITS__MAX_REVIEW_CHARS", "abc"),
        ("XIAOER_LIMITS__MAX_FILE_BYTES", "10"),
    ],
)
def test_error_names_the_env_variable(name: str, value: str) -> None:
    message = error_of(**{name: value})
    assert message.startswith("invalid configuration")
    assert f"  {name}: " in message


def test_token_error_does_not_echo_the_token() -> None:
    message = error_of(XIAOER_TELEGRAM__TOKEN="123456:sekritsekrit")
    assert "XIAOER_TELEGRAM__TOKEN" in message
    assert "sekrit" not in message


def test_every_bad_setting_is_listed() -> None:
    message = error_of(XIAOER_NLP__CLASSIFIER__BATCH_SIZE="0", XIAOER_NLP__WRITER__DTYPE="int8")
    assert "XIAOER_NLP__CLASSIFIER__BATCH_SIZE" in message
    assert "XIAOER_NLP__WRITER__DTYPE" in message


def test_bad_list_item_names_the_variable_not_the_index() -> None:
    message = error_of(XIAOER_ACCESS__ALLOWED_USER_IDS='[1, "x"]')
    assert "XIAOER_ACCESS__ALLOWED_USER_IDS (item 1):" in message
    assert "__1" not in message


def test_bad_dict_value_names_the_variable() -> None:
    message = error_of(XIAOER_NLP__WRITER__MAX_MEMORY='{"0": 5}')
    assert "XIAOER_NLP__WRITER__MAX_MEMORY (item 0):" in message


def test_list_that_is_not_json_is_a_settings_error() -> None:
    message = error_of(XIAOER_ACCESS__ALLOWED_USER_IDS="1,2")
    assert '"access"' in message
    assert "JSON" in message


# ---------------------------------------------------------------- secrets


@pytest.mark.parametrize("secret", ["short", "x" * 15, "has space in it 123", "é" * 20, "x" * 257])
def test_webhook_secret_must_be_long_and_in_telegrams_alphabet(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("XIAOER_TELEGRAM__WEBHOOK_SECRET", secret)
    with pytest.raises(SettingsError, match="16-256 characters"):
        load_settings(None)


def test_webhook_secret_of_16_characters_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOER_TELEGRAM__WEBHOOK_SECRET", "Ab3_-" * 4)
    secret = load_settings(None).telegram.webhook_secret
    assert secret is not None and secret.get_secret_value() == "Ab3_-" * 4


def test_token_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOER_TELEGRAM__TOKEN", TOKEN)
    monkeypatch.setenv("XIAOER_TELEGRAM__WEBHOOK_SECRET", "webhook-sekrit-value")
    s = load_settings(None)
    assert isinstance(s.telegram.token, SecretStr)
    assert s.telegram.token.get_secret_value() == TOKEN
    assert isinstance(s.telegram.webhook_secret, SecretStr)
    secret_part = TOKEN.split(":", 1)[1]
    for text in (repr(s), str(s), repr(s.telegram), str(s.telegram), s.model_dump_json()):
        assert secret_part not in text
        assert "webhook-sekrit-value" not in text


def test_empty_token_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOER_TELEGRAM__TOKEN", "")
    assert load_settings(None).telegram.token is None


# ---------------------------------------------------------------- paths


def test_paths_are_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XIAOER_STORAGE__PATH", "~/data/xiaoer.sqlite3")
    monkeypatch.setenv("XIAOER_NLP__CACHE_DIR", "~/cache")
    s = load_settings(None)
    assert s.storage.path == tmp_path / "data" / "xiaoer.sqlite3"
    assert s.nlp.cache_dir == tmp_path / "cache"


# ---------------------------------------------------------------- .env.example

_ASSIGNMENT = re.compile(r"^(#\s*)?(XIAOER_[A-Z0-9_]+)=(.*)$")


def example_assignments() -> list[tuple[bool, str, str, int]]:
    """(active, name, value, line index) for each `XIAOER_...=` line, commented out or not."""
    found = []
    for i, line in enumerate(EXAMPLE.read_text(encoding="utf-8").splitlines()):
        match = _ASSIGNMENT.match(line.strip())
        if match:
            found.append((match.group(1) is None, match.group(2), match.group(3), i))
    return found


def test_env_example_documents_every_field() -> None:
    names = [name for _, name, _, _ in example_assignments()]
    assert len(names) == len(set(names)), "a variable is listed twice"
    expected = env_names()
    assert "XIAOER_NLP__WRITER__TEMPERATURE" in expected  # the walk reaches nested sections
    assert set(names) >= expected, f"missing from .env.example: {sorted(expected - set(names))}"
    assert set(names) <= expected, f"not a setting (typo?): {sorted(set(names) - expected)}"


def test_env_example_has_a_reason_above_each_variable() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for _, name, _, i in example_assignments():
        above = lines[i - 1].strip()
        assert above.startswith("#") and len(above) > 2, f"{name}: no comment above"
        assert not _ASSIGNMENT.match(above), f"{name}: the line above is a variable, not a reason"


def test_env_example_token_is_not_set() -> None:
    tokens = [(active, value) for active, name, value, _ in example_assignments() if name.endswith("__TOKEN")]
    assert tokens == [(True, "")] or all(not active for active, _ in tokens)


def _dump(s: Settings) -> dict[str, Any]:
    data = s.model_dump()
    return data


def test_env_example_loads_as_the_defaults() -> None:
    from_example = load_settings(EXAMPLE)
    assert _dump(from_example) == _dump(load_settings(None))


def test_env_example_commented_values_are_valid(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    uncommented = re.sub(r"(?m)^#\s*(XIAOER_[A-Z0-9_]+=)", r"\1", text)
    env_file = tmp_path / "all.env"
    env_file.write_text(uncommented, encoding="utf-8")
    s = load_settings(env_file)
    commented = {name for active, name, _, _ in example_assignments() if not active}
    assert "XIAOER_NLP__WRITER__ADAPTER" in commented
    assert s.nlp.writer.adapter == "none"
    assert s.nlp.classifier.max_memory is not None
