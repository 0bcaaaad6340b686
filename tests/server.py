"""Run the real ``anjian`` console script: CLI commands and a served process on a free port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ANJIAN = str(Path(sys.executable).parent / "anjian")


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANJIAN_")}
    env.update(
        {
            "ANJIAN_DATA_DIR": str(data_dir),
            "ANJIAN_PASSWORD_SCRYPT_LOG2N": "10",
            "ANJIAN_ENV_FILE": str(data_dir / "none.env"),
            **extra,
        }
    )
    return env


def anjian(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [ANJIAN, *args], env=cli_env(data_dir), capture_output=True, text=True, timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(f"anjian {' '.join(args)} failed: {result.stderr}")
    return result


def anjian_json(data_dir: Path, *args: str) -> dict[str, Any]:
    return json.loads(anjian(data_dir, *args, "--json").stdout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def served(
    data_dir: Path, *args: str, timeout: float = 60, env: dict[str, str] | None = None
) -> Iterator[Served]:
    """``anjian serve`` (or another serving command) until the block ends; ``env`` adds
    settings of this server's own."""
    port = free_port()
    command = [ANJIAN, *(args or ("serve",)), "--port", str(port)]
    log = open(data_dir / f"server-{port}.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        command, env=cli_env(data_dir, **(env or {})), stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise AssertionError(
                    f"server exited with {process.returncode}: "
                    f"{(data_dir / f'server-{port}.log').read_text(errors='replace')[-2000:]}"
                )
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("server did not become healthy in time")
            time.sleep(0.2)
        yield Served(url, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
