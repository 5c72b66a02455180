"""Credentials in a tracking URI go to the environment, never into what is stored."""

from __future__ import annotations

import pytest

from ganlab.core.errors import ConfigError
from ganlab.core.secrets import clean_arguments, redact, split_credentials


def test_redact_hides_the_userinfo_of_every_url_in_a_text() -> None:
    text = "uri http://alice:S3cret@host:5000/x and https://bob@h and sqlite:///a.db"
    assert redact(text) == "uri http://***@host:5000/x and https://***@h and sqlite:///a.db"


def test_percent_encoded_credentials_are_read_as_mlflow_would_send_them() -> None:
    clean, user, password = split_credentials("https://al%40ice:p%25w%3Ad@host:443/path")
    assert (clean, user, password) == ("https://host:443/path", "al@ice", "p%w:d")


@pytest.mark.parametrize(
    "args",
    [
        ["tracking.uri=http://alice:S3cret@host:5000", "seed=1"],
        ["--tracking-uri", "http://alice:S3cret@host:5000"],
        ["--tracking-uri=http://alice:S3cret@host:5000"],
    ],
)
def test_every_form_of_the_uri_on_a_command_line_is_cleaned(args) -> None:
    env: dict[str, str] = {}
    cleaned = clean_arguments(args, env)
    assert "S3cret" not in " ".join(cleaned) and "host:5000" in " ".join(cleaned)
    assert env == {"MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": "S3cret"}


def test_the_uri_in_the_environment_is_cleaned_too() -> None:
    env = {"MLFLOW_TRACKING_URI": "http://alice:S3cret@host:5000"}
    assert clean_arguments(["seed=1"], env) == ["seed=1"]
    assert env["MLFLOW_TRACKING_URI"] == "http://host:5000"
    assert env["MLFLOW_TRACKING_PASSWORD"] == "S3cret"


def test_other_credentials_in_the_environment_are_one_sentence_naming_the_fix() -> None:
    env = {"MLFLOW_TRACKING_USERNAME": "bob"}
    with pytest.raises(ConfigError, match=r"MLFLOW_TRACKING_USERNAME is set to other ones"):
        clean_arguments(["tracking.uri=http://alice:S3cret@host"], env)


def test_a_train_command_with_credentials_never_echoes_them(tmp_path) -> None:
    from tests.conftest import run_cli

    result = run_cli(
        ["trainer.epochs=1", "tracking.uri=http://alice:S3cret@127.0.0.1:9"],
        tmp_path,
        env={"MLFLOW_TRACKING_USERNAME": "", "MLFLOW_TRACKING_PASSWORD": ""},
    )
    assert result.returncode == 2
    assert "S3cret" not in result.stdout + result.stderr
    assert "tracking server http://127.0.0.1:9 is unreachable" in result.stderr
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert b"S3cret" not in path.read_bytes(), path
