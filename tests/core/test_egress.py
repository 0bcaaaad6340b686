"""The webhook egress guard: public internet only, checked after resolution, pinned connect."""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from backend.alarms.channels import normalise_target
from backend.alarms.models import ChannelKind
from backend.core.egress import (
    EgressPolicy,
    EgressRefused,
    GuardedTransport,
    guarded_client,
    literal_address,
)
from backend.core.errors import BadInput, ConfigurationError
from backend.core.settings import load_settings

STRICT = EgressPolicy()
LOOPBACK_ALLOWED = EgressPolicy((ipaddress.ip_network("127.0.0.0/8"),))

REFUSED_URLS = [
    "http://127.0.0.1:8080/hook",
    "http://127.9.9.9/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.10/",
    "http://100.64.0.1/",  # shared address space (carrier-grade NAT)
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://[::1]/",
    "http://[::]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[ff02::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a9fe:a9fe]/",  # ::ffff:169.254.169.254
    "http://[64:ff9b::7f00:1]/",  # NAT64 to 127.0.0.1
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://0x7f000001/",
    "http://2130706433/",
    "http://127.1/",
    "http://0177.0.0.1/",
    "http://localhost:9000/",
    "http://metadata.localhost/",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_a_literal_non_public_webhook_is_refused_at_creation(url: str) -> None:
    with pytest.raises(BadInput) as caught:
        normalise_target(ChannelKind.WEBHOOK, url)
    assert "ANJIAN_WEBHOOK_ALLOW_NETWORKS" in caught.value.message
    assert caught.value.details == {"field": "target"}


def test_public_and_allowed_targets_are_accepted() -> None:
    assert normalise_target(ChannelKind.WEBHOOK, " https://hooks.example.cn/a ") == (
        "https://hooks.example.cn/a"
    )
    assert normalise_target(ChannelKind.WEBHOOK, "http://93.184.216.34/x")
    assert normalise_target(ChannelKind.WEBHOOK, "http://[2606:4700::1111]/x")
    assert normalise_target(ChannelKind.WEBHOOK, "http://127.0.0.1:9/x", egress=LOOPBACK_ALLOWED)
    # The allowance covers an IPv4 address however it is written.
    assert normalise_target(
        ChannelKind.WEBHOOK, "http://[::ffff:127.0.0.1]/", egress=LOOPBACK_ALLOWED
    )
    with pytest.raises(BadInput):  # allowing loopback does not open the private networks
        normalise_target(ChannelKind.WEBHOOK, "http://10.0.0.1/", egress=LOOPBACK_ALLOWED)


def test_numeric_shorthands_are_read_as_the_resolver_reads_them() -> None:
    assert literal_address("0x7f000001") == ipaddress.ip_address("127.0.0.1")
    assert literal_address("[fe80::1%eth0]") == ipaddress.ip_address("fe80::1")
    assert literal_address("hooks.example.cn") is None
    assert literal_address("deadbeef") is None  # a name, not a number


def test_the_setting_takes_cidrs_and_refuses_anything_else() -> None:
    env = {"ANJIAN_ENV_FILE": "/nonexistent/.env", "ANJIAN_DATA_DIR": "/tmp/anjian-egress"}
    settings = load_settings({**env, "ANJIAN_WEBHOOK_ALLOW_NETWORKS": "10.20.0.0/16, ::1/128"})
    assert settings.webhook_allow_networks == (
        ipaddress.ip_network("10.20.0.0/16"),
        ipaddress.ip_network("::1/128"),
    )
    assert load_settings(env).webhook_allow_networks == ()
    for bad in ("10.20.0.1/16", "intranet", "10.0.0.0/33"):
        with pytest.raises(ConfigurationError, match="ANJIAN_WEBHOOK_ALLOW_NETWORKS"):
            load_settings({**env, "ANJIAN_WEBHOOK_ALLOW_NETWORKS": bad})


# --- delivery: resolution, pinning, redirects -----------------------------------------------


class Seen:
    def __init__(self) -> None:
        self.hosts: list[str] = []


@pytest.fixture
def receiver() -> Iterator[tuple[int, Seen]]:
    seen = Seen()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.hosts.append(self.headers.get("Host", ""))
            if self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/")
            else:
                self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1]), seen
    server.shutdown()
    server.server_close()


def test_a_name_resolving_to_loopback_is_refused_before_connecting(
    receiver: tuple[int, Seen], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, seen = receiver
    monkeypatch.setattr(
        "backend.core.egress.resolve", lambda host, port: [ipaddress.ip_address("127.0.0.1")]
    )
    with (
        guarded_client(STRICT) as client,
        pytest.raises(EgressRefused, match=re.escape("127.0.0.1")),
    ):
        client.post(f"http://hooks.example.cn:{port}/hook", content=b"{}")
    assert seen.hosts == []


def test_one_inside_answer_among_public_ones_refuses_the_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.5")]
    monkeypatch.setattr("backend.core.egress.resolve", lambda host, port: answers)
    with (
        guarded_client(STRICT) as client,
        pytest.raises(EgressRefused, match=re.escape("10.0.0.5")),
    ):
        client.post("http://hooks.example.cn/hook", content=b"{}")


def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(
    receiver: tuple[int, Seen],
) -> None:
    """DNS rebinding: the resolver answers a public address for the check and loopback for
    any later look-up; the request must go to the first answer, never look the name up again.
    Here the "public" answer is the allowed loopback receiver and the later one is a closed
    address, so a second look-up would fail to connect."""
    port, seen = receiver
    answers = iter([[ipaddress.ip_address("127.0.0.1")], [ipaddress.ip_address("127.0.0.2")]])
    transport = GuardedTransport(LOOPBACK_ALLOWED, resolver=lambda host, p: next(answers))
    with httpx.Client(transport=transport, follow_redirects=False) as client:
        response = client.post(f"http://hooks.example.cn:{port}/hook", content=b"{}")
    assert response.status_code == 204
    assert seen.hosts == [f"hooks.example.cn:{port}"]
    assert next(answers) == [ipaddress.ip_address("127.0.0.2")]  # looked up exactly once


def test_a_redirect_is_not_followed(receiver: tuple[int, Seen]) -> None:
    port, seen = receiver
    with guarded_client(LOOPBACK_ALLOWED) as client:
        response = client.post(f"http://127.0.0.1:{port}/moved", content=b"{}")
    assert response.status_code == 302
    assert len(seen.hosts) == 1


def test_the_allowed_network_is_reached(receiver: tuple[int, Seen]) -> None:
    port, seen = receiver
    with guarded_client(LOOPBACK_ALLOWED) as client:
        assert client.post(f"http://127.0.0.1:{port}/hook", content=b"{}").status_code == 204
    with guarded_client(STRICT) as client, pytest.raises(EgressRefused):
        client.post(f"http://127.0.0.1:{port}/hook", content=b"{}")
    assert len(seen.hosts) == 1
