"""The compose stack's promises, read from docker/compose.yaml and the scripts it runs."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from ganlab.core.paths import PROJECT_ROOT

DOCKER = PROJECT_ROOT / "docker"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_nothing_is_published_beyond_loopback(compose) -> None:
    """Only loopback, except the HTTPS proxy, whose address the lab chooses (HTTPS_BIND,
    loopback unless set): plain HTTP never leaves the machine."""
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            allowed = "${HTTPS_BIND:-127.0.0.1}:" if name == "proxy" else "127.0.0.1:"
            assert str(port).startswith(allowed), f"{name} publishes {port}"
    assert "ports" not in compose["services"]["postgres"]
    assert compose["services"]["proxy"]["profiles"] == ["https"]


def test_credentials_come_from_the_env_file(compose) -> None:
    text = (DOCKER / "compose.yaml").read_text()
    assert "${POSTGRES_PASSWORD" in text
    env = compose["services"]["postgres"]["environment"]
    assert all(str(value).startswith("${") for value in env.values())
    example = dict(
        line.split("=", 1)
        for line in (DOCKER / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "MLFLOW_PORT"} <= set(example)
    # the server's admin password and session key too, shipped empty
    assert example["MLFLOW_ADMIN_PASSWORD"] == example["MLFLOW_SECRET_KEY"] == ""
    mlflow = compose["services"]["mlflow"]["environment"]
    assert mlflow["MLFLOW_AUTH"] == "${MLFLOW_AUTH:-true}"
    assert mlflow["MLFLOW_AUTH_ADMIN_PASSWORD"].startswith("${MLFLOW_ADMIN_PASSWORD:?")
    assert ".env" in (PROJECT_ROOT / ".dockerignore").read_text()


def test_services_run_the_scripts_in_docker_folder(compose) -> None:
    services = compose["services"]
    assert services["mlflow"]["command"] == ["mlflow-server.sh"]
    assert services["trainer"]["command"] == ["train.sh"]
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert "COPY docker/mlflow-server.sh docker/train.sh /usr/local/bin/" in dockerfile
    for script in ("mlflow-server.sh", "train.sh"):
        assert (DOCKER / script).stat().st_mode & 0o111, f"{script} is not executable"


def test_stack_wiring(compose) -> None:
    services = compose["services"]
    assert services["trainer"]["shm_size"] == "2gb"
    assert services["mlflow"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["trainer"]["depends_on"]["mlflow"]["condition"] == "service_healthy"
    assert set(compose["volumes"]) == {"pgdata", "artifacts", "data"}
    uri = services["mlflow"]["environment"]["MLFLOW_BACKEND_STORE_URI"]
    assert re.fullmatch(
        r"postgresql://\$\{POSTGRES_USER\}:\$\{POSTGRES_PASSWORD\}@postgres:5432/.*", uri
    )
    # the trainer reaches the server by its service name, which MLflow must accept
    assert "mlflow:5000" in services["mlflow"]["environment"]["MLFLOW_ALLOWED_HOSTS"]
    assert services["trainer"]["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"


SECRETS = {
    "POSTGRES_PASSWORD": "a-real-one",
    "MLFLOW_ADMIN_PASSWORD": "a-real-admin-one",
    "MLFLOW_SECRET_KEY": "0123456789abcdef",
}


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_compose_file_is_valid_and_refuses_missing_credentials() -> None:
    base = ["docker-compose", "-f", str(DOCKER / "compose.yaml")]
    with_example = [*base[:1], "--env-file", str(DOCKER / ".env.example"), *base[1:]]
    ok = subprocess.run(
        [*with_example, "config", "-q"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **SECRETS},
    )
    assert ok.returncode == 0, ok.stderr
    # the admin password missing: refused, named
    no_admin = subprocess.run(
        [*with_example, "config", "-q"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **SECRETS, "MLFLOW_ADMIN_PASSWORD": ""},
    )
    assert no_admin.returncode != 0
    assert "set MLFLOW_ADMIN_PASSWORD in docker/.env" in no_admin.stderr
    # the example ships no password: used as it is, the stack refuses to start
    placeholder = subprocess.run(
        [*with_example, "config", "-q"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert placeholder.returncode != 0
    assert "set POSTGRES_PASSWORD in docker/.env" in placeholder.stderr
    missing = subprocess.run(
        [*base, "config", "-q"], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}
    )
    assert missing.returncode != 0
    assert "set POSTGRES_USER in docker/.env" in missing.stderr


def test_the_server_script_refuses_a_placeholder_password(tmp_path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "MLFLOW_BACKEND_STORE_URI": "postgresql://mlflow:change-me@127.0.0.1:5432/mlflow",
        "MLFLOW_ARTIFACTS_DESTINATION": str(tmp_path),
    }
    result = subprocess.run(
        ["sh", str(DOCKER / "mlflow-server.sh")], env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "mlflow-server.sh: refusing a placeholder database password in "
        "MLFLOW_BACKEND_STORE_URI; set a real one (POSTGRES_PASSWORD in docker/.env)."
    ]


@pytest.mark.parametrize("password", ["", "change-me", "password1234"])
def test_the_server_script_refuses_accounts_without_a_real_admin_password(
    tmp_path, password: str
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "MLFLOW_BACKEND_STORE_URI": f"sqlite:///{tmp_path}/m.db",
        "MLFLOW_ARTIFACTS_DESTINATION": str(tmp_path),
        "MLFLOW_AUTH": "true",
        "MLFLOW_AUTH_ADMIN_PASSWORD": password,
    }
    result = subprocess.run(
        ["sh", str(DOCKER / "mlflow-server.sh")], env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "needs a real MLFLOW_AUTH_ADMIN_PASSWORD" in result.stderr


def test_usage_telemetry_is_off_unless_the_lab_opts_in(compose) -> None:
    """MLflow 3 reports usage unless MLFLOW_DISABLE_TELEMETRY (or DO_NOT_TRACK) is set:
    every service, the image and the server script turn it off, overridable from .env."""
    for name in ("mlflow", "trainer"):
        value = compose["services"][name]["environment"]["MLFLOW_DISABLE_TELEMETRY"]
        assert value == "${MLFLOW_DISABLE_TELEMETRY:-true}", name
    assert "MLFLOW_DISABLE_TELEMETRY=true" in (DOCKER / "Dockerfile").read_text()
    script = (DOCKER / "mlflow-server.sh").read_text()
    assert 'export MLFLOW_DISABLE_TELEMETRY="${MLFLOW_DISABLE_TELEMETRY:-true}"' in script


@pytest.mark.parametrize(("given", "expected"), [(None, True), ("false", False), ("true", True)])
def test_ganlab_processes_send_no_telemetry_unless_asked(given, expected) -> None:
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_DISABLE_TELEMETRY",)}
    # MLflow also stays quiet under CI or pytest: take those away to see ganlab's default
    for key in ("CI", "PYTEST_CURRENT_TEST", "DO_NOT_TRACK"):
        env.pop(key, None)
    if given is not None:
        env["MLFLOW_DISABLE_TELEMETRY"] = given
    probe = "import ganlab.tracking; from mlflow.telemetry.utils import is_telemetry_disabled; "
    probe += "print(is_telemetry_disabled())"
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == str(expected)
