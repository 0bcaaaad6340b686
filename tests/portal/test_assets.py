"""The built portals as the server sends them: each portal's shell for any path under it,
hashed assets cached for a year, HTML revalidated, nothing outside the build reachable, and
a clear 503 before the first build. The security headers come from the app's middleware."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from backend.api.headers import CONTENT_SECURITY_POLICY, security_headers
from portal.assets import DIST_DIR, IMMUTABLE, NO_CACHE, PortalFiles, portal_router
from tests.conftest import service_unavailable

SCRIPT = "console.log('the console');\n" * 100  # over the size worth compressing


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A build as Vite lays it out, small enough to read, and a secret beside and above it."""
    built = tmp_path / "dist"
    _write(built / "index.html", "<title>landing</title>")
    _write(built / "app" / "index.html", "<title>console</title>")
    _write(built / "gov" / "index.html", "<title>government</title>")
    _write(built / "assets" / "app-Ab12Cd34.js", SCRIPT)
    _write(built / "assets" / "tiny-Ab12Cd34.css", "a{}")
    _write(built / ".built", "")
    _write(built / "secret.txt", "inside dist, outside assets")
    _write(tmp_path / "pyproject.toml", "outside dist")
    return built


def _client(dist: Path) -> TestClient[Litestar]:
    app = Litestar(route_handlers=[portal_router(dist)], middleware=[security_headers])
    return TestClient(app)


@pytest.fixture
def client(dist: Path) -> Iterator[TestClient[Litestar]]:
    with _client(dist) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("/", "landing"),
        ("/app", "console"),
        ("/app/", "console"),
        ("/app/login", "console"),
        ("/app/alarms/123", "console"),
        ("/app/alarms/123?tab=timeline", "console"),
        ("/gov/", "government"),
        ("/gov/enterprises/9/alarms", "government"),
    ],
)
def test_every_portal_path_answers_its_shell(
    client: TestClient[Litestar], path: str, title: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.text == f"<title>{title}</title>"
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == NO_CACHE


def test_pages_carry_the_contracts_security_headers(client: TestClient[Litestar]) -> None:
    for path in ("/", "/app/login", "/gov/login", "/assets/app-Ab12Cd34.js"):
        headers = client.get(path).headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"


def test_assets_are_cached_for_a_year_and_sent_gzipped(client: TestClient[Litestar]) -> None:
    response = client.get("/assets/app-Ab12Cd34.js", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == IMMUTABLE
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert int(response.headers["content-length"]) < len(SCRIPT) / 10
    assert response.text == SCRIPT  # decoded by the client

    plain = client.get("/assets/app-Ab12Cd34.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == SCRIPT.encode()

    tiny = client.get("/assets/tiny-Ab12Cd34.css", headers={"Accept-Encoding": "gzip"})
    assert tiny.headers["content-type"] == "text/css; charset=utf-8"
    assert "content-encoding" not in tiny.headers  # too small to be worth it


def test_a_rebuilt_asset_is_read_again(client: TestClient[Litestar], dist: Path) -> None:
    assert client.get("/assets/tiny-Ab12Cd34.css").text == "a{}"
    _write(dist / "assets" / "tiny-Ab12Cd34.css", "b{color:red}")
    assert client.get("/assets/tiny-Ab12Cd34.css").text == "b{color:red}"


@pytest.mark.parametrize(
    "path",
    [
        "/assets/%2e%2e/secret.txt",
        "/assets/..%2fsecret.txt",
        "/assets/%2e%2e/%2e%2e/pyproject.toml",
        "/assets/..%2f..%2fpyproject.toml",
        "/assets/%2fetc%2fpasswd",
        "/assets/..%5csecret.txt",
        "/assets/.built",
        "/assets/missing-00000000.js",
    ],
)
def test_nothing_outside_the_assets_folder_is_served(
    client: TestClient[Litestar], path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "outside" not in response.text
    assert "inside dist" not in response.text


def test_names_are_checked_before_any_file_is_opened(dist: Path) -> None:
    files = PortalFiles(dist)
    (dist / "assets" / "link.txt").symlink_to(dist / "secret.txt")
    assert files.asset("app-Ab12Cd34.js") == (dist / "assets" / "app-Ab12Cd34.js").resolve()
    for name in ("../secret.txt", "../../pyproject.toml", "/etc/passwd", "link.txt", "", "."):
        assert files.asset(name) is None, name


def test_before_the_first_build_every_portal_path_says_to_run_make(tmp_path: Path) -> None:
    with _client(tmp_path / "never-built") as client:
        for path in ("/", "/app/", "/app/alarms/1", "/gov/login", "/assets/app-Ab12Cd34.js"):
            response = client.get(path)
            assert response.status_code == 503, path
            assert "门户尚未构建" in response.text
            assert "the portal is not built: run make" in response.text.lower()
            assert response.headers["cache-control"] == "no-store"


def test_the_real_build_serves_what_its_pages_load() -> None:
    """The build `make` produced: each page's scripts and stylesheets are there, hashed."""
    if not (DIST_DIR / "index.html").is_file():
        service_unavailable("the portal build", "portal/web/dist is missing (run make portal)")
    with _client(DIST_DIR) as client:
        for page in ("/", "/app/", "/gov/"):
            html = client.get(page).text
            assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', html)
            assert any(a.endswith(".js") for a in assets), (page, html)
            for asset in assets:
                assert re.search(r"-[\w-]{8}\.(js|css)$", asset), asset  # hashed name
                response = client.get(asset, headers={"Accept-Encoding": "gzip"})
                assert response.status_code == 200, asset
                assert response.headers["cache-control"] == IMMUTABLE
        # Nothing from another host (air-gapped networks): only the build's own files.
        for page in ("index.html", "app/index.html", "gov/index.html"):
            references = re.findall(r'(?:src|href)="([^"]+)"', (DIST_DIR / page).read_text())
            foreign = [r for r in references if not r.startswith("/assets/") and r != "data:,"]
            assert foreign == [], page


def test_gzip_is_the_same_bytes_on_every_server(dist: Path) -> None:
    first = PortalFiles(dist).load(dist / "assets" / "app-Ab12Cd34.js").gzipped
    second = PortalFiles(dist).load(dist / "assets" / "app-Ab12Cd34.js").gzipped
    assert first == second
    assert first is not None
    assert gzip.decompress(first) == SCRIPT.encode()
