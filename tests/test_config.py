from __future__ import annotations

import stat

import pytest

from puter_magic.config import CredentialStore, Settings, mask, normalize_origin, state_dir
from puter_magic.errors import ConfigurationError


def test_defaults_point_at_puter():
    settings = Settings.load({})
    assert settings.api_origin == "https://api.puter.com"
    assert settings.gui_origin == "https://puter.com"
    assert settings.token is None
    assert settings.rate_limit == (30, 10.0)
    assert settings.max_concurrent == 3


def test_environment_is_read_and_explicit_arguments_win():
    env = {
        "PUTER_TOKEN": "env-token-123456",
        "PUTER_API_ORIGIN": "http://api.puter.localhost:4100/",
        "PUTER_MODEL": "gpt-5-nano",
        "PUTER_TIMEOUT_IDLE": "7.5",
        "PUTER_RATE_LIMIT": "5/2",
        "PUTER_MAX_CONCURRENT": "off",
    }
    settings = Settings.load(env, model="claude-sonnet-4")
    assert settings.token == "env-token-123456"
    assert settings.api_origin == "http://api.puter.localhost:4100"
    assert settings.model == "claude-sonnet-4"
    assert settings.idle_timeout == 7.5
    assert settings.rate_limit == (5, 2.0)
    assert settings.max_concurrent is None
    assert settings.sources["model"] == "argument"
    assert settings.sources["token"] == "env PUTER_TOKEN"


@pytest.mark.parametrize(
    ("var", "value"),
    [("PUTER_TIMEOUT_CONNECT", "soon"), ("PUTER_RATE_LIMIT", "many/10"), ("PUTER_MAX_RETRIES", "x")],
)
def test_malformed_environment_values_name_the_variable(var, value):
    with pytest.raises(ConfigurationError, match=var):
        Settings.load({var: value})


@pytest.mark.parametrize("origin", ["ftp://puter.com", "puter.com", "https://puter.com/api", ""])
def test_origins_must_be_http_origins(origin):
    with pytest.raises(ConfigurationError):
        normalize_origin(origin)


def test_unknown_setting_is_a_type_error():
    with pytest.raises(TypeError):
        Settings.load({}, colour="blue")


def test_credentials_file_is_private_and_keyed_by_origin(isolated_home):
    store = CredentialStore(state_dir())
    store.put("https://api.puter.com", "stored-token-abcdef", "alice")
    mode = stat.S_IMODE(store.path.stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) & 0o077 == 0
    assert store.path.parent == isolated_home
    assert Settings.load({"PUTER_MAGIC_HOME": str(isolated_home)}).token == "stored-token-abcdef"
    other = Settings.load({"PUTER_MAGIC_HOME": str(isolated_home), "PUTER_API_ORIGIN": "http://127.0.0.1:9"})
    assert other.token is None, "a token must never be offered to another origin"
    assert store.remove("https://api.puter.com") is True
    assert store.get("https://api.puter.com") is None
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_environment_token_beats_stored_token(isolated_home):
    CredentialStore(isolated_home).put("https://api.puter.com", "stored-token-abcdef")
    env = {"PUTER_MAGIC_HOME": str(isolated_home), "PUTER_TOKEN": "env-token-abcdef"}
    assert Settings.load(env).token == "env-token-abcdef"
    assert Settings.load(env, token="arg-token-abcdef").token == "arg-token-abcdef"


def test_corrupt_credentials_file_gives_a_clear_error(isolated_home):
    (isolated_home / "credentials.json").write_text("{not json")
    with pytest.raises(ConfigurationError, match=r"credentials\.json"):
        Settings.load({"PUTER_MAGIC_HOME": str(isolated_home)})


def test_token_never_shows_in_repr_or_describe():
    settings = Settings.load({}, token="super-secret-token-value")
    assert "super-secret" not in repr(settings)
    rows = dict((name, shown) for name, shown, _ in settings.describe())
    assert rows["token"] == "set (hidden)"
    assert "super-secret" not in str(settings.describe())
    assert mask(None) == "not set"


def test_state_dir_honours_xdg_when_not_relocated(monkeypatch, tmp_path):
    assert state_dir({"PUTER_MAGIC_HOME": str(tmp_path)}) == tmp_path
    if not __import__("sys").platform.startswith(("win", "darwin")):
        assert state_dir({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "puter-magic"
