"""Settings from ANJIAN_* variables and an optional .env file: embedded defaults, fail fast."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.core.errors import ConfigurationError
from backend.core.settings import load_settings

ANJIAN = Path(sys.executable).parent / "anjian"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory, so ``./var`` and ``./.env`` resolve inside the test."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_are_embedded_under_var(workdir: Path) -> None:
    settings = load_settings({})
    data_dir = (workdir / "var").resolve()
    assert settings.data_dir == data_dir
    assert settings.data_dir.is_absolute()
    assert settings.database_url == f"sqlite+aiosqlite:///{data_dir / 'anjian.db'}"
    assert settings.sync_database_url == f"sqlite:///{data_dir / 'anjian.db'}"
    assert not settings.is_postgres
    assert settings.clickhouse_url == f"chdb://{data_dir / 'clickhouse'}"
    assert settings.embedded_clickhouse
    assert settings.chdb_path == data_dir / "clickhouse"
    assert settings.broker_url == "stub://"
    assert settings.embedded_broker
    assert settings.mqtt_url is None
    assert settings.master_key_file == data_dir / "keyring.json"
    assert settings.password_log2_n == 15


def test_relative_data_dir_is_made_absolute(workdir: Path) -> None:
    settings = load_settings({"ANJIAN_DATA_DIR": "state/here"})
    assert settings.data_dir == (workdir / "state" / "here").resolve()
    assert settings.chdb_path == settings.data_dir / "clickhouse"


def test_process_environment_is_not_read_when_a_mapping_is_given(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANJIAN_BROKER_URL", "kafka://elsewhere")
    assert load_settings({}).broker_url == "stub://"


@pytest.mark.parametrize(
    "url",
    ["postgresql://root@127.0.0.1:5432/anjian", "postgres://root@127.0.0.1:5432/anjian"],
)
def test_postgresql_urls_use_psycopg(workdir: Path, url: str) -> None:
    settings = load_settings({"ANJIAN_DATABASE_URL": url})
    assert settings.database_url == "postgresql+psycopg://root@127.0.0.1:5432/anjian"
    assert settings.is_postgres
    assert settings.sync_database_url == settings.database_url


def test_servers_are_accepted(workdir: Path) -> None:
    settings = load_settings(
        {
            "ANJIAN_CLICKHOUSE_URL": "http://ch.internal:8123",
            "ANJIAN_BROKER_URL": "redis://127.0.0.1:6379/0",
            "ANJIAN_MQTT_URL": "mqtt://127.0.0.1:1883",
            "ANJIAN_PASSWORD_SCRYPT_LOG2N": "12",
        }
    )
    assert not settings.embedded_clickhouse
    assert settings.chdb_path is None
    assert not settings.embedded_broker
    assert settings.mqtt_url == "mqtt://127.0.0.1:1883"
    assert settings.password_log2_n == 12


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ANJIAN_DATABASE_URL", "mysql://root@localhost/anjian"),
        ("ANJIAN_DATABASE_URL", "not a url"),
        ("ANJIAN_CLICKHOUSE_URL", "ftp://ch.internal"),
        ("ANJIAN_CLICKHOUSE_URL", "chdb://relative/path"),
        ("ANJIAN_BROKER_URL", "kafka://127.0.0.1:9092"),
        ("ANJIAN_MQTT_URL", "http://127.0.0.1:1883"),
        ("ANJIAN_PASSWORD_SCRYPT_LOG2N", "fifteen"),
        ("ANJIAN_PASSWORD_SCRYPT_LOG2N", "9"),
        ("ANJIAN_PASSWORD_SCRYPT_LOG2N", "21"),
        ("ANJIAN_PASSWORD_SCRYPT_LOG2N", "-3"),
        ("ANJIAN_TOKEN_TTL_SECONDS", "0"),
    ],
)
def test_bad_value_names_the_variable(workdir: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings({name: value})
    assert name in raised.value.message
    assert value in raised.value.message


def test_dotenv_values_are_used_and_the_environment_overrides_them(workdir: Path) -> None:
    (workdir / ".env").write_text(
        "# local overrides\n"
        "\n"
        "ANJIAN_DATA_DIR=/srv/anjian\n"
        "ANJIAN_BROKER_URL = 'redis://127.0.0.1:6379/1'\n"
        'ANJIAN_PASSWORD_SCRYPT_LOG2N="11"\n',
        encoding="utf-8",
    )
    from_file = load_settings({})
    assert from_file.data_dir == Path("/srv/anjian")
    assert from_file.broker_url == "redis://127.0.0.1:6379/1"
    assert from_file.password_log2_n == 11

    overridden = load_settings({"ANJIAN_BROKER_URL": "amqp://127.0.0.1:5672"})
    assert overridden.broker_url == "amqp://127.0.0.1:5672"
    assert overridden.data_dir == Path("/srv/anjian")


def test_env_file_location_is_configurable(workdir: Path) -> None:
    env_file = workdir / "conf" / "anjian.env"
    env_file.parent.mkdir()
    env_file.write_text("ANJIAN_MQTT_URL=mqtts://broker.example.cn:8883\n", encoding="utf-8")
    (workdir / ".env").write_text("ANJIAN_MQTT_URL=mqtt://ignored:1883\n", encoding="utf-8")
    settings = load_settings({"ANJIAN_ENV_FILE": str(env_file)})
    assert settings.mqtt_url == "mqtts://broker.example.cn:8883"


def test_a_missing_env_file_is_fine(workdir: Path) -> None:
    settings = load_settings({"ANJIAN_ENV_FILE": str(workdir / "absent.env")})
    assert settings.broker_url == "stub://"


def test_dotenv_line_without_equals_is_refused(workdir: Path) -> None:
    (workdir / ".env").write_text("ANJIAN_DATA_DIR=/srv/anjian\nANJIAN_BROKER_URL redis://x\n")
    with pytest.raises(ConfigurationError) as raised:
        load_settings({})
    assert ".env:2" in raised.value.message  # the file and line to fix
    assert "ANJIAN_BROKER_URL redis://x" in raised.value.message


def test_bad_value_in_dotenv_is_refused(workdir: Path) -> None:
    (workdir / ".env").write_text("ANJIAN_MQTT_URL=ws://127.0.0.1\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="ANJIAN_MQTT_URL"):
        load_settings({})


def test_cli_fails_fast_on_a_bad_setting(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANJIAN_")}
    env.update(
        ANJIAN_DATA_DIR=str(tmp_path / "data"),
        ANJIAN_ENV_FILE=str(tmp_path / "none.env"),
        ANJIAN_DATABASE_URL="mysql://x",
    )
    done = subprocess.run(
        [str(ANJIAN), "migrate", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "ANJIAN_DATABASE_URL" in done.stderr
    assert "mysql://x" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists(), "nothing may be created before the check"


def test_a_process_is_in_production_unless_it_says_test(workdir: Path) -> None:
    assert load_settings({}).environment == "production"
    assert not load_settings({}).test_clock
    assert load_settings({"ANJIAN_ENV": "test"}).environment == "test"
    with pytest.raises(ConfigurationError, match="ANJIAN_ENV"):
        load_settings({"ANJIAN_ENV": "staging"})


def test_the_test_clock_is_refused_outside_test_mode(workdir: Path) -> None:
    for environment in ({}, {"ANJIAN_ENV": "production"}):
        with pytest.raises(ConfigurationError, match="ANJIAN_TEST_CLOCK"):
            load_settings({**environment, "ANJIAN_TEST_CLOCK": "1"})
    assert not load_settings({"ANJIAN_TEST_CLOCK": "0"}).test_clock
    assert load_settings({"ANJIAN_ENV": "test", "ANJIAN_TEST_CLOCK": "1"}).test_clock


# --- ANJIAN_PUBLIC_URL: where mailed links point ---------------------------------------------


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        ("https://anjian.example.com", "https://anjian.example.com"),
        ("https://anjian.example.com/", "https://anjian.example.com"),
        ("  http://Anjian.Example.com:8080 ", "http://anjian.example.com:8080"),
        ("https://[2001:db8::7]:8443", "https://[2001:db8::7]:8443"),
    ],
)
def test_a_public_url_is_kept_as_an_origin(workdir: Path, value: str, origin: str) -> None:
    settings = load_settings({"ANJIAN_PUBLIC_URL": value})
    assert settings.public_url == origin
    assert settings.link_base == origin
    # A configured address wins over the one the server binds.
    assert settings.served_at("0.0.0.0", 9000, https=False).link_base == origin


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("anjian.example.com", "http:// or https://"),
        ("ftp://anjian.example.com", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("https://", "http:// or https://"),
        ("https://anjian.example.com/?next=x", "query or a fragment"),
        ("https://anjian.example.com#top", "query or a fragment"),
        ("https://anjian.example.com:99999", "not a URL"),
        ("https://admin:secret@anjian.example.com", "user or password"),
        ("https://example.com/anjian", "origin only"),
    ],
)
def test_a_bad_public_url_is_refused(workdir: Path, value: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match="ANJIAN_PUBLIC_URL") as refused:
        load_settings({"ANJIAN_PUBLIC_URL": value})
    assert says in refused.value.message
    assert value.strip() in refused.value.message or repr(value) in refused.value.message


def test_without_a_public_url_mails_link_to_the_served_address(workdir: Path) -> None:
    settings = load_settings({})
    assert settings.public_url is None
    assert settings.link_base == "http://127.0.0.1:8000"  # `anjian serve`'s default address
    assert settings.served_at("127.0.0.1", 8123, https=False).link_base == "http://127.0.0.1:8123"
    assert settings.served_at("anjian.lan", 443, https=True).link_base == "https://anjian.lan:443"
    assert settings.served_at("::1", 8000, https=False).link_base == "http://[::1]:8000"
    # Every address: the links name the loopback one (the server logs a warning).
    assert settings.served_at("0.0.0.0", 8000, https=False).link_base == "http://127.0.0.1:8000"


def test_serve_refuses_a_bad_public_url_before_starting(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANJIAN_")}
    env.update(
        ANJIAN_DATA_DIR=str(tmp_path / "data"),
        ANJIAN_ENV_FILE=str(tmp_path / "none.env"),
        ANJIAN_PUBLIC_URL="https://anjian.example.com/?token=",
    )
    done = subprocess.run(
        [str(ANJIAN), "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "ANJIAN_PUBLIC_URL" in done.stderr and "query" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists(), "nothing may be created before the check"
