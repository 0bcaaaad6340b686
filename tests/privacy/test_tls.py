"""TLS: development certificates, the server's pair check, HTTPS end to end, MQTT over TLS."""

from __future__ import annotations

import json
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from backend.core.errors import BadInput
from backend.telemetry._mqtt_dynsec import DynsecError, prepare_broker_dir
from backend.telemetry.mqtt import MqttDirectory
from privacy.tls import MAX_VALIDITY_DAYS, generate_dev_certificate, load_server_tls
from tests.factories import PASSWORD
from tests.mosquitto import mosquitto
from tests.server import ANJIAN, anjian, cli_env, free_port

# --- development certificates ------------------------------------------------------------------


def san(path: Path) -> tuple[set[str], set[str]]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (
        set(names.get_values_for_type(x509.DNSName)),
        {str(ip) for ip in names.get_values_for_type(x509.IPAddress)},
    )


def test_dev_certificate_names_modes_and_validity(tmp_path: Path) -> None:
    made = generate_dev_certificate(
        tmp_path / "tls", ["anjian.test", "10.1.2.3", "监测.中国", "*.plant.test"]
    )
    dns, ips = san(made.certificate)
    assert dns == {"localhost", "anjian.test", "xn--0zw16r.xn--fiqs8s", "*.plant.test"}
    assert ips == {"127.0.0.1", "::1", "10.1.2.3"}
    assert made.key.stat().st_mode & 0o777 == 0o600
    assert made.certificate.stat().st_mode & 0o777 == 0o644
    cert = x509.load_pem_x509_certificate(made.certificate.read_bytes())
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime == timedelta(days=MAX_VALIDITY_DAYS)
    assert cert.not_valid_before_utc <= datetime.now(UTC)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca is False  # browsers refuse a CA certificate as a server's
    key = serialization.load_pem_private_key(made.key.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    checked = load_server_tls(made.certificate, made.key)
    assert checked is not None and checked.sha256 == made.sha256
    assert checked.warnings == ()


def test_dev_certificate_is_not_overwritten_without_force(tmp_path: Path) -> None:
    first = generate_dev_certificate(tmp_path)
    with pytest.raises(BadInput, match="--force"):
        generate_dev_certificate(tmp_path)
    assert load_server_tls(first.certificate, first.key) is not None
    second = generate_dev_certificate(tmp_path, overwrite=True)
    assert second.sha256 != first.sha256
    assert second.key.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("host", ["bad host", "-edge.test", "a..b", "", "x" * 64 + ".test"])
def test_dev_certificate_refuses_bad_host_names(tmp_path: Path, host: str) -> None:
    with pytest.raises(BadInput, match="--host"):
        generate_dev_certificate(tmp_path, [host])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("days", [0, MAX_VALIDITY_DAYS + 1])
def test_dev_certificate_validity_is_bounded(tmp_path: Path, days: int) -> None:
    with pytest.raises(BadInput, match="825"):
        generate_dev_certificate(tmp_path, days=days)


# --- the server's pair -------------------------------------------------------------------------


def test_pair_check_refuses_what_uvicorn_would_choke_on(tmp_path: Path) -> None:
    one = generate_dev_certificate(tmp_path / "one")
    other = generate_dev_certificate(tmp_path / "other")
    assert load_server_tls(None, None) is None
    with pytest.raises(BadInput, match="go together"):
        load_server_tls(one.certificate, None)
    with pytest.raises(BadInput, match="go together"):
        load_server_tls(None, one.key)
    with pytest.raises(BadInput, match="cannot read"):
        load_server_tls(tmp_path / "missing.crt", one.key)
    with pytest.raises(BadInput, match="does not match"):
        load_server_tls(one.certificate, other.key)
    with pytest.raises(BadInput, match="not a PEM certificate"):
        load_server_tls(one.key, one.key)
    with pytest.raises(BadInput, match="not a PEM private key"):
        load_server_tls(one.certificate, one.certificate)
    key = serialization.load_pem_private_key(one.key.read_bytes(), password=None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(BadInput, match="encrypted"):
        load_server_tls(one.certificate, encrypted)


def test_pair_check_refuses_an_expired_certificate(tmp_path: Path) -> None:
    old = generate_dev_certificate(tmp_path, days=1, now=datetime.now(UTC) - timedelta(days=3))
    with pytest.raises(BadInput, match="expired"):
        load_server_tls(old.certificate, old.key)


def test_world_readable_key_is_warned_about(tmp_path: Path) -> None:
    made = generate_dev_certificate(tmp_path)
    made.key.chmod(0o644)
    checked = load_server_tls(made.certificate, made.key)
    assert checked is not None
    assert any("chmod 600" in w for w in checked.warnings)


# --- the CLI -----------------------------------------------------------------------------------


def run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return anjian(data_dir, *args, check=False)


@pytest.mark.slow
def test_dev_cert_command(tmp_path: Path) -> None:
    out = tmp_path / "certs"
    done = run(tmp_path, "dev-cert", "--out", str(out), "--host", "gw.plant.test", "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["certificate"] == str(out / "anjian-dev.crt")
    assert payload["key"] == str(out / "anjian-dev.key")
    assert "gw.plant.test" in san(out / "anjian-dev.crt")[0]
    again = run(tmp_path, "dev-cert", "--out", str(out))
    assert again.returncode == 2 and "--force" in again.stderr
    for bad in (["--host", "no such host"], ["--days", "826"]):
        refused = run(tmp_path, "dev-cert", "--out", str(tmp_path / "x"), *bad)
        assert refused.returncode == 2, refused.stderr
        assert "Traceback" not in refused.stderr


@pytest.mark.slow
def test_serve_refuses_a_bad_pair_before_serving(tmp_path: Path) -> None:
    one = generate_dev_certificate(tmp_path / "one")
    other = generate_dev_certificate(tmp_path / "other")
    cases = {
        "go together": ["--tls-cert", str(one.certificate)],
        "cannot read": ["--tls-cert", str(tmp_path / "no.crt"), "--tls-key", str(one.key)],
        "does not match": ["--tls-cert", str(one.certificate), "--tls-key", str(other.key)],
    }
    for message, args in cases.items():
        done = run(tmp_path, "serve", "--port", str(free_port()), *args)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr
        assert done.stdout == ""


# --- HTTPS end to end --------------------------------------------------------------------------


def client_context(cafile: Path) -> ssl.SSLContext:
    """Trusts only the development certificate, with OpenSSL's strict X.509 checks."""
    context = ssl.create_default_context(cafile=str(cafile))
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return context


@contextmanager
def served_tls(data_dir: Path, cert: Path, key: Path, cafile: Path) -> Iterator[str]:
    port = free_port()
    command = [ANJIAN, "serve", "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key)]
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=cli_env(data_dir), stdout=log, stderr=log)
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"server exited: {log_path.read_text(errors='replace')}")
            try:
                if httpx.get(f"{url}/healthz", verify=client_context(cafile)).status_code == 200:
                    break
            except httpx.ConnectError as exc:
                if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                    raise
            if time.monotonic() > deadline:
                raise AssertionError("the TLS server did not become healthy in time")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_server_speaks_https_only(tmp_path: Path) -> None:
    anjian(tmp_path, "migrate")
    email = "tls.admin@example.cn"
    anjian(tmp_path, "admin", "create", "--email", email, "--password", PASSWORD)
    made = generate_dev_certificate(tmp_path / "tls")
    stranger = generate_dev_certificate(tmp_path / "stranger")
    with served_tls(tmp_path, made.certificate, made.key, made.certificate) as url:
        trusted = client_context(made.certificate)
        health = httpx.get(f"{url}/healthz", verify=trusted)
        assert health.json() == {"status": "ok"}
        assert health.http_version == "HTTP/1.1"
        login = httpx.post(
            f"{url}/graphql",
            json={
                "query": "mutation($e: String!, $p: String!) "
                "{ login(email: $e, password: $p) { token } }",
                "variables": {"e": email, "p": PASSWORD},
            },
            verify=trusted,
        )
        token = login.json()["data"]["login"]["token"]
        me = httpx.post(
            f"{url}/graphql",
            json={"query": "{ me { id } }"},
            headers={"Authorization": f"Bearer {token}"},
            verify=trusted,
        )
        assert me.json()["data"]["me"]["id"]

        # The same port in clear text gets no HTTP answer at all.
        plain = url.replace("https://", "http://")
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{plain}/healthz", timeout=5)
        # A certificate the client does not trust is refused by the client.
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{url}/healthz", verify=client_context(stranger.certificate))
        # TLS 1.2 still works; the listener offers nothing older (RFC 8996).
        capped = client_context(made.certificate)
        capped.maximum_version = ssl.TLSVersion.TLSv1_2
        assert httpx.get(f"{url}/healthz", verify=capped).status_code == 200


# --- MQTT over TLS -----------------------------------------------------------------------------


def test_broker_config_refuses_a_mismatched_pair(tmp_path: Path) -> None:
    one = generate_dev_certificate(tmp_path / "one")
    other = generate_dev_certificate(tmp_path / "other")
    with pytest.raises(BadInput, match="does not match"):
        prepare_broker_dir(tmp_path / "broker", 8883, tls_cert=one.certificate, tls_key=other.key)
    assert not (tmp_path / "broker").exists()


@pytest.mark.slow
async def test_broker_serves_tls_with_a_dev_certificate(tmp_path: Path) -> None:
    made = generate_dev_certificate(tmp_path / "tls")
    with mosquitto(tmp_path / "broker", tls_cert=made.certificate, tls_key=made.key) as broker:
        config = broker.files.config.read_text().splitlines()
        assert f"certfile {made.certificate}" in config
        assert f"keyfile {made.key}" in config
        assert broker.admin_url.startswith("mqtts://")
        directory = MqttDirectory(f"{broker.admin_url}?cafile={made.certificate}", timeout=10)
        try:
            assert await directory.device_ids() == set()
        finally:
            directory.close()
        plain = MqttDirectory(broker.admin_url.replace("mqtts://", "mqtt://"), timeout=3)
        try:
            with pytest.raises(DynsecError):  # the TLS listener never answers clear text
                await plain.device_ids()
        finally:
            plain.close()
