"""TLS material: self-signed development certificates, and the check of a server's pair.

Data in transit is encrypted end to end: ``anjian serve --tls-cert --tls-key`` serves HTTPS and
the generated Mosquitto config takes the same kind of pair. A development certificate is a
self-signed end-entity certificate (not a CA: browsers refuse a CA certificate as a server's),
which clients trust by pinning the file itself.
"""

from __future__ import annotations

import ipaddress
import os
import re
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from backend.core.errors import BadInput
from backend.core.files import private_dir

# The CA/Browser Forum ceiling that clients (Apple's among them) still enforce.
MAX_VALIDITY_DAYS = 825
DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")
CERT_FILE = "anjian-dev.crt"
KEY_FILE = "anjian-dev.key"
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _general_name(name: str) -> x509.GeneralName:
    text = name.strip().rstrip(".")
    try:
        return x509.IPAddress(ipaddress.ip_address(text))
    except ValueError:
        pass
    wildcard = text.startswith("*.")
    try:
        ascii_name = text.removeprefix("*.").encode("idna").decode("ascii").lower()
    except UnicodeError:
        ascii_name = ""
    labels = ascii_name.split(".")
    if not ascii_name or len(ascii_name) > 253 or not all(_LABEL.match(x) for x in labels):
        raise BadInput(
            f"--host 须为主机名或 IP 地址 / --host must be a host name or an IP address, "
            f"got {name!r}"
        )
    return x509.DNSName(("*." if wildcard else "") + ascii_name)


def _fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def _write_file(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # the umask must not widen or narrow what was asked for
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class DevCertificate:
    certificate: Path
    key: Path
    names: tuple[str, ...]
    not_after: datetime
    sha256: str


def generate_dev_certificate(
    out_dir: Path,
    hosts: Iterable[str] = (),
    *,
    days: int = MAX_VALIDITY_DAYS,
    overwrite: bool = False,
    now: datetime | None = None,
) -> DevCertificate:
    """Write ``anjian-dev.crt`` (0644) and its P-256 key ``anjian-dev.key`` (0600) to
    ``out_dir``, valid for localhost, 127.0.0.1, ::1 and ``hosts``."""
    if not 1 <= days <= MAX_VALIDITY_DAYS:
        raise BadInput(f"--days must be between 1 and {MAX_VALIDITY_DAYS}, got {days}")
    wanted = [*DEFAULT_NAMES, *hosts]
    names: list[x509.GeneralName] = []
    for host in wanted:
        general = _general_name(host)
        if general not in names:
            names.append(general)
    out_dir = out_dir.expanduser().resolve()
    cert_path, key_path = out_dir / CERT_FILE, out_dir / KEY_FILE
    if not overwrite:
        for path in (cert_path, key_path):
            if path.exists():
                raise BadInput(
                    f"{path} 已存在，用 --force 替换 / {path} exists; --force replaces it"
                )
    key = ec.generate_private_key(ec.SECP256R1())
    extra = names[len(DEFAULT_NAMES) :]
    common_name = str(extra[0].value) if extra else "localhost"
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Anjian development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
        ]
    )
    start = (now or datetime.now(UTC)) - timedelta(minutes=5)  # tolerate small clock skew
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    private_dir(out_dir)
    _write_file(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        0o600,
    )
    _write_file(cert_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    return DevCertificate(
        cert_path,
        key_path,
        tuple(str(n.value) for n in names),
        certificate.not_valid_after_utc,
        _fingerprint(certificate),
    )


@dataclass(frozen=True)
class ServerTls:
    """A checked certificate chain and key for a listener."""

    certificate: Path
    key: Path
    subject: str
    not_after: datetime
    sha256: str
    warnings: tuple[str, ...] = field(default=())


def _read(path: Path, option: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{option}: 无法读取 / cannot read {path}: {exc.strerror}") from None


def load_server_tls(
    cert: Path | None, key: Path | None, *, now: datetime | None = None
) -> ServerTls | None:
    """Check a certificate (PEM, leaf first, chain after) and its unencrypted PEM key before
    anything is served: both given or neither, readable, matching, and currently valid."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise BadInput("--tls-cert 与 --tls-key 须同时给出 / --tls-cert and --tls-key go together")
    try:
        chain = x509.load_pem_x509_certificates(_read(cert, "--tls-cert"))
    except ValueError:
        raise BadInput(f"--tls-cert: {cert} 不是 PEM 证书 / is not a PEM certificate") from None
    try:
        private = serialization.load_pem_private_key(_read(key, "--tls-key"), password=None)
    except TypeError:
        raise BadInput(
            f"--tls-key: {key} 已加密，不支持 / is encrypted; the server needs an unencrypted key"
        ) from None
    except ValueError:
        raise BadInput(f"--tls-key: {key} 不是 PEM 私钥 / is not a PEM private key") from None
    leaf = chain[0]
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if leaf.public_key().public_bytes(*spki) != private.public_key().public_bytes(*spki):
        raise BadInput(
            f"--tls-key: {key} 与证书 {cert} 不匹配 / does not match the certificate {cert}"
        )
    moment = now or datetime.now(UTC)
    if moment < leaf.not_valid_before_utc:
        raise BadInput(f"--tls-cert: {cert} is not valid before {leaf.not_valid_before_utc}")
    if moment > leaf.not_valid_after_utc:
        raise BadInput(
            f"--tls-cert: {cert} 已于 {leaf.not_valid_after_utc:%Y-%m-%d} 过期 / expired on "
            f"{leaf.not_valid_after_utc.isoformat()}"
        )
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise BadInput(f"--tls-cert/--tls-key: OpenSSL refuses the pair: {exc}") from None
    warnings = []
    if key.stat().st_mode & 0o004:
        warnings.append(f"{key} is readable by every user on this machine; chmod 600 it")
    return ServerTls(
        cert,
        key,
        leaf.subject.rfc4514_string(),
        leaf.not_valid_after_utc,
        _fingerprint(leaf),
        tuple(warnings),
    )


def require_modern_tls(context: ssl.SSLContext) -> ssl.SSLContext:
    """No protocol older than TLS 1.2: 1.0 and 1.1 are deprecated (RFC 8996)."""
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
