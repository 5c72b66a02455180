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
    # the server's admin password, session key and database role's password, shipped empty
    assert example["MLFLOW_ADMIN_PASSWORD"] == example["MLFLOW_SECRET_KEY"] == ""
    assert example["MLFLOW_DB_PASSWORD"] == ""
    assert example["MLFLOW_DB_USER"] != example["POSTGRES_USER"]  # not the superuser
    # the allowed host names are the lab's to set
    allowed = compose["services"]["mlflow"]["environment"]["MLFLOW_ALLOWED_HOSTS"]
    assert allowed.startswith("${MLFLOW_ALLOWED_HOSTS:-") and "MLFLOW_ALLOWED_HOSTS" in example
    # and docker/.env, where they are set, is never committed
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "docker/.env"], cwd=PROJECT_ROOT, check=False
    )
    assert ignored.returncode == 0
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
    # MLflow connects as its own role (docker/postgres-init.sh), not as POSTGRES_USER
    mlflow_env = services["mlflow"]["environment"]
    assert "MLFLOW_BACKEND_STORE_URI" not in mlflow_env and "POSTGRES_PASSWORD" not in str(
        mlflow_env
    )
    assert mlflow_env["MLFLOW_DB_USER"] == "${MLFLOW_DB_USER:-mlflow}"
    init = "./postgres-init.sh:/docker-entrypoint-initdb.d/10-mlflow-role.sh:ro"
    assert init in services["postgres"]["volumes"]
    # the trainer reaches the server by its service name, which MLflow must accept
    assert "mlflow:5000" in services["mlflow"]["environment"]["MLFLOW_ALLOWED_HOSTS"]
    assert services["trainer"]["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"


SECRETS = {
    "POSTGRES_PASSWORD": "a-real-one",
    "MLFLOW_DB_PASSWORD": "a-real-role-one",
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


def test_the_server_builds_its_store_uri_with_every_part_escaped(tmp_path) -> None:
    """A password with '%', '@', ':' and '/' reaches PostgreSQL intact, in the store URI
    and in the accounts app's config (where configparser reads '%' specially)."""
    import configparser
    import urllib.parse

    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "mlflow").write_text(
        '#!/bin/sh\necho "$MLFLOW_BACKEND_STORE_URI"\necho "$MLFLOW_AUTH_CONFIG_PATH"\n'
    )
    (fake / "mlflow").chmod(0o755)
    password = "p%w@x:y/z"
    env = {
        "PATH": f"{fake}:/usr/bin:/bin",
        "MLFLOW_DB_USER": "mlflow",
        "MLFLOW_DB_PASSWORD": password,
        "MLFLOW_DB_HOST": "db",
        "MLFLOW_ARTIFACTS_DESTINATION": str(tmp_path),
        "MLFLOW_AUTH": "true",
        "MLFLOW_AUTH_ADMIN_PASSWORD": "a-real-one",
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "k",
    }
    out = subprocess.run(
        ["sh", str(DOCKER / "mlflow-server.sh")], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    uri, config_path = out.stdout.split()
    parsed = urllib.parse.urlsplit(uri)
    assert (parsed.hostname, parsed.port, parsed.path) == ("db", 5432, "/mlflow")
    assert urllib.parse.unquote(parsed.password) == password
    config = configparser.ConfigParser()
    config.read(config_path)
    assert config["mlflow"]["database_uri"] == uri


def fake_compose(tmp_path):
    """A COMPOSE command that logs its calls and prints a few bytes for each `exec`."""
    calls = tmp_path / "calls"
    script = tmp_path / "compose"
    script.write_text(f'#!/bin/sh\necho "$*" >>{calls}\necho data\n')
    script.chmod(0o755)
    return str(script), calls


def test_a_backup_is_readable_by_its_owner_only(tmp_path) -> None:
    compose, _ = fake_compose(tmp_path)
    backup = tmp_path / "backup"
    env = {"PATH": "/usr/bin:/bin", "COMPOSE": compose}
    out = subprocess.run(
        ["sh", str(DOCKER / "backup.sh"), str(backup)], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert backup.stat().st_mode & 0o777 == 0o700
    for name in ("database.dump", "artifacts.tar", "SHA256SUMS"):
        assert (backup / name).stat().st_mode & 0o777 == 0o600, name


@pytest.mark.parametrize(
    "damage",
    ["unlisted tampered file", "extra file", "tampered listed file", "no manifest"],
)
def test_a_restore_refuses_a_backup_its_manifest_does_not_vouch_for(tmp_path, damage) -> None:
    compose, calls = fake_compose(tmp_path)
    backup = tmp_path / "backup"
    env = {"PATH": "/usr/bin:/bin", "COMPOSE": compose}
    subprocess.run(["sh", str(DOCKER / "backup.sh"), str(backup)], env=env, check=True)
    calls.unlink()
    sums = backup / "SHA256SUMS"
    if damage == "unlisted tampered file":  # delete its line, then tamper with it
        sums.write_text(
            "".join(x for x in sums.read_text().splitlines(True) if "artifacts" not in x)
        )
        (backup / "artifacts.tar").write_text("tampered")
    elif damage == "extra file":
        (backup / "extra.sql").write_text("DROP TABLE runs;")
    elif damage == "tampered listed file":
        (backup / "database.dump").write_text("tampered")
    else:
        sums.unlink()
    out = subprocess.run(
        ["sh", str(DOCKER / "restore.sh"), str(backup)], env=env, capture_output=True, text=True
    )
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().endswith("the backup is damaged.")
    assert not calls.exists()  # refused before the stack is touched


@pytest.mark.parametrize(
    ("bind", "auth", "refused"),
    [("0.0.0.0", "false", True), ("10.1.2.3", "false", True), ("127.0.0.1", "false", False),
     ("0.0.0.0", "true", False)],
)  # fmt: skip
def test_the_proxy_refuses_a_server_open_to_the_network_without_accounts(
    bind, auth, refused
) -> None:
    env = {"PATH": "/usr/bin:/bin", "HTTPS_BIND": bind, "MLFLOW_AUTH": auth}
    out = subprocess.run(
        ["sh", str(DOCKER / "proxy" / "proxy-entrypoint.sh")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2  # refused, or (here, without certificates) stopped there
    said = "would be open to the network without logins" in out.stderr
    assert said == refused, out.stderr


def test_the_proxy_config_hardens_tls_and_limits_guessing() -> None:
    text = (DOCKER / "proxy" / "nginx.conf.template").read_text()
    assert "server_tokens off;" in text
    assert 'add_header Strict-Transport-Security "max-age=' in text
    ciphers = re.search(r"ssl_ciphers ([^;]+);", text)
    assert ciphers is not None
    assert all("GCM" in c or "CHACHA20" in c for c in ciphers.group(1).split(":"))
    assert all(c.startswith("ECDHE-") for c in ciphers.group(1).split(":"))  # forward secret
    assert text.count("limit_req zone=") == 2 and "limit_req_status 429;" in text
