"""What every benchmark against a real server uses: the ``anjian`` command on a scratch data
directory, a served process, its memory, and the GraphQL calls that read its figures.

The benchmarks under ``anjian bench`` and the standalone scenarios in ``loadtests/`` share
these, so a scratch store is provisioned and served the same way everywhere.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

from backend.core.errors import StoreUnavailable

ANJIAN = str(Path(sys.executable).parent / "anjian")


class BenchmarkFailed(StoreUnavailable):
    """The server under measurement, or a command preparing it, did not do what the benchmark
    needs; the message says what."""

    code = "BENCHMARK_FAILED"


def scratch_env(data_dir: Path, settings: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without its ANJIAN_* settings, pointed at ``data_dir``, with
    the benchmark's own ``settings`` (ANJIAN_* names) on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANJIAN_")}
    env.update(
        {
            "ANJIAN_DATA_DIR": str(data_dir),
            "ANJIAN_ENV_FILE": str(data_dir / "none.env"),
            "ANJIAN_PASSWORD_SCRYPT_LOG2N": "12",
        }
    )
    env.update(settings or {})
    return env


def anjian_json(data_dir: Path, *args: str) -> dict[str, object]:
    """``anjian <args> --json`` on the scratch data dir: its one JSON object."""
    done = subprocess.run(
        [ANJIAN, *args, "--json"],
        env=scratch_env(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise BenchmarkFailed(f"anjian {' '.join(args)}: {done.stderr.strip()}")
    return json.loads(done.stdout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int, key: str = "VmRSS:") -> float:
    """A process's resident memory now (``VmRSS:``) or at its peak (``VmHWM:``), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib(pid: int) -> float:
    return rss_mib(pid, "VmHWM:")


@contextmanager
def serving(
    scratch: Path,
    command: str = "serve",
    start_up_s: float = 60,
    settings: Mapping[str, str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``anjian serve`` (or ``anjian demo``, which seeds first) on the scratch data dir, logging
    to ``server.log`` there, once it answers ``/healthz``: (url, process); ``settings`` are
    ANJIAN_* values for the server alone. Stopped with SIGTERM when the block ends."""
    url = f"http://127.0.0.1:{free_port()}"
    with (scratch / "server.log").open("wb") as log:
        server = subprocess.Popen(
            [ANJIAN, command, "--port", url.rsplit(":", 1)[1]],
            env=scratch_env(scratch, settings),
            stdout=log,
            stderr=log,
        )
        try:
            wait_healthy(url, server, start_up_s)
            yield url, server
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()


def wait_healthy(url: str, server: subprocess.Popen[bytes], start_up_s: float = 60) -> None:
    deadline = time.monotonic() + start_up_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchmarkFailed("the server exited during start-up; see server.log")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise BenchmarkFailed(f"the server did not become healthy within {start_up_s:.0f} s")


def graphql(
    url: str, query: str, variables: dict[str, object], token: str | None = None
) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        f"{url}/graphql", json={"query": query, "variables": variables}, headers=headers, timeout=60
    )
    body = response.json()
    if body.get("errors"):
        raise BenchmarkFailed(f"GraphQL error: {body['errors']}")
    return body["data"]


def login(url: str, email: str, password: str) -> str:
    """A session token of the account."""
    data = graphql(
        url,
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
        {"e": email, "p": password},
    )
    return str(data["login"]["token"])  # type: ignore[index]


def readings_landed(url: str, token: str, site_id: str) -> int:
    """How many of the site's readings ClickHouse holds, through the server's GraphQL API."""
    data = graphql(
        url,
        "query($s: ID!, $f: DateTime!, $t: DateTime!) "
        "{ siteReadingCount(siteId: $s, from: $f, to: $t) }",
        {"s": site_id, "f": "2000-01-01T00:00:00Z", "t": datetime.now(UTC).isoformat()},
        token,
    )
    return int(data["siteReadingCount"])  # type: ignore[arg-type]
