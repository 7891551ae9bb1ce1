"""The settings root (environment) and the one YAML loader: unknown names, MLflow's URI, error messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field

from common.errors import ConfigurationError
from common.settings import ConfigModel, Settings, SettingsError, config_error, deep_merge, load_config

REPO = Path(__file__).resolve().parents[2]


# -- the environment --------------------------------------------------------------------------------

def test_an_unknown_weimeng_variable_is_named_with_a_did_you_mean():
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"WEIMENG_HOME": "/tmp/w", "WEIMENG_DATABSE_URL": "sqlite://"})
    msg = str(info.value)
    assert "WEIMENG_DATABSE_URL" in msg
    assert "Did you mean WEIMENG_DATABASE_URL?" in msg
    assert info.value.field == "WEIMENG_DATABSE_URL"


def test_every_declared_variable_is_accepted():
    env = {"WEIMENG_HOME": "/tmp/w", "WEIMENG_CHROMIUM": "/x", "WEIMENG_PROGRESS": "0", "WEIMENG_NB_DIR": "/tmp/nb",
           "WEIMENG_NB_PEOPLE": "3000", "WEIMENG_NB_DAYS": "365", "WEIMENG_NB_SEED": "7",
           "WEIMENG_DATABASE_URL": "postgresql://u:pw@h/db", "WEIMENG_MLFLOW_TRACKING_URI": "sqlite:///m.db"}
    s = Settings.from_env(env)
    assert s.chromium == Path("/x") and s.progress is False and s.nb_seed == 7
    assert s.resolved_database_url == "postgresql+psycopg://u:pw@h/db"
    assert s.where()["database"] == "postgresql+psycopg://u:***@h/db"


def test_a_bad_value_names_the_variable():
    with pytest.raises(SettingsError, match="WEIMENG_NB_PEOPLE = 'many'"):
        Settings.from_env({"WEIMENG_NB_PEOPLE": "many"})


def test_mlflow_tracking_uri_is_honoured_and_the_weimeng_variable_wins():
    assert Settings.from_env({"WEIMENG_HOME": "/tmp/w"}).resolved_mlflow_uri == "sqlite:////tmp/w/mlflow.db"
    assert Settings.from_env({"MLFLOW_TRACKING_URI": "http://mlflow:5000"}).resolved_mlflow_uri == "http://mlflow:5000"
    both = {"MLFLOW_TRACKING_URI": "http://mlflow:5000", "WEIMENG_MLFLOW_TRACKING_URI": "postgresql://h/ml"}
    assert Settings.from_env(both).resolved_mlflow_uri == "postgresql://h/ml"


def test_training_registry_resolves_mlflow_tracking_uri(monkeypatch, tmp_path):
    from training.registry import resolve_tracking_uri

    monkeypatch.delenv("WEIMENG_MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("WEIMENG_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert resolve_tracking_uri() == "http://mlflow.example:5000"
    monkeypatch.setenv("WEIMENG_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/wins.db")
    assert resolve_tracking_uri() == f"sqlite:///{tmp_path}/wins.db"
    assert resolve_tracking_uri("sqlite:///explicit.db") == "sqlite:///explicit.db"


def test_serving_settings_resolve_mlflow_tracking_uri(monkeypatch, tmp_path):
    from serving.scoring.settings import ServingSettings

    monkeypatch.delenv("WEIMENG_MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    s = ServingSettings.load(None, {"home": str(tmp_path)}).resolve()
    assert s.tracking_uri == "http://mlflow.example:5000"
    assert s.data_dir == str((tmp_path / "world").resolve())  # paths follow the configured home
    monkeypatch.setenv("WEIMENG_MLFLOW_TRACKING_URI", "postgresql+psycopg://h/ml")
    assert ServingSettings.load(None, {"home": str(tmp_path)}).resolve().tracking_uri == "postgresql+psycopg://h/ml"
    monkeypatch.delenv("WEIMENG_MLFLOW_TRACKING_URI")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    s = ServingSettings.load(None, {"home": str(tmp_path)}).resolve()
    assert s.tracking_uri == f"sqlite:///{(tmp_path / 'mlflow.db').resolve()}"


def _weimeng(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("WEIMENG_", "MLFLOW_TRACKING_URI"))}
    exe = Path(sys.executable).with_name("weimeng")
    return subprocess.run([str(exe), *args], cwd=REPO, env={**base, **env},
                          capture_output=True, text=True, timeout=120)


def test_weimeng_chromium_no_longer_breaks_the_commands(tmp_path):
    env = {"WEIMENG_CHROMIUM": "/x", "WEIMENG_HOME": str(tmp_path), "WEIMENG_PROGRESS": "0"}
    for args in (["train", "--help"], ["alerts", "--help"], ["console", "--help"]):
        res = _weimeng(args, env)
        assert res.returncode == 0, (args, res.stderr)
        assert "unknown setting" not in res.stderr
    # a command that reads the settings: creates the alert store under the home
    res = _weimeng(["db", "upgrade"], env)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "weimeng.db").is_file()
    # while a misspelt variable is still refused, with the name it was probably meant to be
    res = _weimeng(["db", "upgrade"], {**env, "WEIMENG_CHROMIU": "/x"})
    assert res.returncode == 2
    assert "WEIMENG_CHROMIU" in res.stderr and "Did you mean WEIMENG_CHROMIUM?" in res.stderr


# -- the YAML loader ----------------------------------------------------------------------------------

class _Inner(ConfigModel):
    mode: Literal["fast", "slow"] = "fast"
    size: int = Field(default=3, ge=1, le=10)
    secret: str = "0123456789abcdef"


class _Outer(ConfigModel):
    inner: _Inner = Field(default_factory=_Inner)
    name: str = "x"
    channels: tuple[Literal["a", "b"], ...] = ("a",)


class _Sections(ConfigModel):
    one: _Inner = Field(default_factory=_Inner)
    two: _Inner = Field(default_factory=_Inner)


def test_unknown_key_names_file_key_allowed_keys_and_a_guess(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("inner:\n  sise: 4\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        load_config(_Outer, p)
    msg = str(info.value)
    assert msg.startswith(str(p))
    assert "unknown key(s) ['sise'] in section 'inner'" in msg
    assert "inner.sise: unknown key; allowed: mode, secret, size." in msg
    assert "Did you mean 'size'?" in msg
    assert info.value.field == "inner.sise"


def test_unknown_top_level_section_is_called_a_section():
    with pytest.raises(ConfigurationError,
                       match=r"unknown section\(s\) \['three'\]\. three: unknown section; allowed: one, two\."):
        load_config(_Sections, {"three": {}})


def test_bad_enum_value_names_value_and_allowed_values():
    with pytest.raises(ConfigurationError, match=r"inner.mode='medium' is not allowed; possible values are "
                                                 r"\['fast', 'slow'\]"):
        load_config(_Outer, {"inner": {"mode": "medium"}}, label="my.yaml")
    with pytest.raises(ConfigurationError, match=r"channels.1='c' is not allowed; possible values are \['a', 'b'\]"):
        load_config(_Outer, {"channels": ["a", "c"]})


def test_out_of_range_names_key_value_and_bound():
    with pytest.raises(ConfigurationError, match=r"my.yaml: inner.size = 11: Input should be less than or equal to 10"):
        load_config(_Outer, {"inner": {"size": 11}}, label="my.yaml")


def test_secrets_are_never_echoed():
    with pytest.raises(ConfigurationError) as info:
        load_config(_Outer, {"inner": {"secret": ["hunter2-hunter2"]}})
    assert "hunter2" not in str(info.value)


def test_direct_construction_raises_the_same_clear_error():
    with pytest.raises(ConfigurationError, match="_Inner: size = 0: Input should be greater than or equal to 1"):
        _Inner(size=0)


def test_null_section_means_defaults_and_overrides_merge(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("inner:\nname: y\n", encoding="utf-8")
    cfg = load_config(_Outer, p, overrides={"inner": {"size": 5}, "name": None})
    assert cfg.inner.size == 5 and cfg.inner.mode == "fast" and cfg.name == "y"


def test_missing_file_not_yaml_and_not_a_mapping(tmp_path):
    with pytest.raises(ConfigurationError, match="not found"):
        load_config(_Outer, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1,\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        load_config(_Outer, bad)
    bad.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="expected a mapping"):
        load_config(_Outer, bad)


def test_the_error_class_can_be_a_package_error():
    class PackageError(Exception):
        pass

    with pytest.raises(PackageError, match="unknown key"):
        load_config(_Outer, {"nme": "x"}, error=PackageError)


def test_config_error_and_deep_merge_keep_their_shape():
    from pydantic import ValidationError

    try:
        _Outer.model_validate({"inner": {"size": "many"}})
    except ValidationError as exc:
        err = config_error(exc, "f.yaml", model=_Outer)
    assert isinstance(err, ConfigurationError) and str(err).startswith("f.yaml: inner.size = 'many'")
    assert deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}}) == {"a": {"b": 3, "c": 2}}
