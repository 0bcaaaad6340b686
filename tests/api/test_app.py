"""The HTTP surface: health, readiness, security headers, GraphiQL served offline and under
the CSP, introspection for signed-in users, and GraphQL error codes."""

from __future__ import annotations

import gc
import json
import logging
import uuid
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from backend.api.headers import CONTENT_SECURITY_POLICY
from backend.app import create_app
from backend.auth.tokens import TokenClaims
from backend.runtime import Runtime
from portal.assets import DIST_DIR, NO_CACHE, NOT_BUILT
from tests.conftest import make_settings
from tests.factories import World, unique
from tests.graphql import GraphQLClient, Result

LEAK_MARKERS = ("Traceback", 'File "', "sqlalchemy", "sqlite3", "OperationalError", "no such")


class AssetCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []  # (tag, url)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src", "iframe": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value is not None:
                self.urls.append((tag, value.strip()))


# --- health -------------------------------------------------------------------------------------


async def test_healthz(api: GraphQLClient) -> None:
    response = await api.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_terse_to_the_public(api: GraphQLClient, world: World) -> None:
    response = await api.http.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready"}  # no versions, no internals
    # Signed in as someone other than the platform administrator: still terse.
    token = await api.token_for(world.a.users["owner"])
    response = await api.http.get("/readyz", headers={"Authorization": f"Bearer {token}"})
    assert response.json() == {"status": "ready"}
    garbage = await api.http.get("/readyz", headers={"Authorization": "Bearer nonsense"})
    assert garbage.json() == {"status": "ready"}


async def test_readyz_shows_its_checks_to_the_platform_administrator(
    api: GraphQLClient, world: World
) -> None:
    token = await api.token_for(world.platform_admin)
    response = await api.http.get("/readyz", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["clickhouse"]


async def test_readyz_is_503_when_the_database_is_down(tmp_path: Path, chdb_dir: Path) -> None:
    settings = make_settings(
        tmp_path, chdb_dir, ANJIAN_DATABASE_URL="postgresql://root@127.0.0.1:9/nowhere"
    )
    runtime = Runtime(settings)
    try:
        async with AsyncTestClient(app=create_app(runtime=runtime)) as client:
            response = await client.get("/readyz")
            assert (await client.get("/healthz")).status_code == 200
    finally:
        await runtime.close()
    assert response.status_code == 503
    body = response.json()
    assert body == {"status": "unavailable", "reasons": ["database unreachable"]}
    assert_opaque(response.text)


# --- security headers --------------------------------------------------------------------------

CONTRACT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' "
    "data: blob:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'"
)


def assert_security_headers(response: object, *, tls: bool) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["content-security-policy"] == CONTRACT_CSP
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    if tls:
        assert headers["strict-transport-security"].startswith("max-age=")
        assert int(headers["strict-transport-security"].split("=")[1].split(";")[0]) >= 31536000
    else:
        assert "strict-transport-security" not in headers


async def every_kind_of_response(client: AsyncTestClient) -> list[object]:  # type: ignore[type-arg]
    return [
        await client.get("/healthz"),
        await client.get("/readyz"),
        await client.get("/graphql", headers={"Accept": "text/html"}),
        await client.post("/graphql", json={"query": "{ __typename }"}),
        await client.get("/static/graphiql/anjian-graphiql.js"),
        await client.get("/static/nope.js"),  # 404
        await client.get("/", follow_redirects=False),
        await client.post("/api/v1/telemetry", json={}),  # 401: no device token
    ]


async def test_every_response_carries_the_contract_headers(api: GraphQLClient) -> None:
    assert CONTENT_SECURITY_POLICY == CONTRACT_CSP
    for response in await every_kind_of_response(api.http):
        assert_security_headers(response, tls=False)


async def test_hsts_is_sent_over_tls(runtime: Runtime) -> None:
    app = create_app(runtime=runtime)
    async with AsyncTestClient(app=app, base_url="https://anjian.example.cn") as client:
        for response in await every_kind_of_response(client):
            assert_security_headers(response, tls=True)


async def test_only_a_server_process_freezes_what_start_up_loaded(runtime: Runtime) -> None:
    """The server's one app puts start-up's objects out of the collector's reach (full
    collections then pause the loop for milliseconds); an app a test builds does not."""
    gc.unfreeze()
    try:
        async with AsyncTestClient(app=create_app(runtime=runtime)) as client:
            assert (await client.get("/healthz")).status_code == 200
            assert gc.get_freeze_count() == 0
        served = create_app(runtime=runtime, freeze_heap_after_start=True)
        async with AsyncTestClient(app=served) as client:
            assert (await client.get("/healthz")).status_code == 200
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()


# --- GraphiQL, offline --------------------------------------------------------------------------


class InlineFinder(HTMLParser):
    """Script bodies, style elements, style and event-handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "style":
            self.inline.append("<style>")
        if tag == "script":
            self._in_script = True
            if "src" not in names:
                self.inline.append("<script> without src")
        self.inline += [f"{tag}[{n}]" for n in names if n == "style" or n.startswith("on")]

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append("script body")


async def test_graphiql_has_no_inline_code_and_keeps_no_secrets(api: GraphQLClient) -> None:
    page = (await api.http.get("/graphql", headers={"Accept": "text/html"})).text
    finder = InlineFinder()
    finder.feed(page)
    assert finder.inline == []
    script = (await api.http.get("/static/graphiql/anjian-graphiql.js")).text
    assert "shouldPersistHeaders: false" in script
    # Nothing of the URL reaches the editors: no query, variables or headers from a link.
    assert "location.search" not in script and "URLSearchParams" not in script


# --- introspection ------------------------------------------------------------------------------

INTROSPECT = "{ __schema { queryType { name } } }"


async def test_anonymous_callers_cannot_introspect(api: GraphQLClient, world: World) -> None:
    for query in (INTROSPECT, '{ __type(name: "Site") { name } }'):
        result = await api.query(query)
        assert result.codes == ["UNAUTHENTICATED"], result.body
        assert "introspection" in result.body["errors"][0]["message"]
        assert result.data is None
    assert (await api.query("{ __typename }")).body == {"data": {"__typename": "Query"}}
    signed_in = await api.query(INTROSPECT, as_user=world.a.users["viewer"])
    assert signed_in.body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


async def test_the_platform_may_open_introspection(
    runtime: Runtime, tmp_path: Path, chdb_dir: Path
) -> None:
    settings = make_settings(tmp_path, chdb_dir, ANJIAN_GRAPHQL_PUBLIC_INTROSPECTION="true")
    opened = Runtime(settings)
    try:
        async with AsyncTestClient(app=create_app(runtime=opened)) as client:
            response = await client.post("/graphql", json={"query": INTROSPECT})
    finally:
        await opened.close()
    assert response.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


async def test_graphiql_page_uses_only_local_assets(api: GraphQLClient) -> None:
    response = await api.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "GraphiQL" in page

    collector = AssetCollector()
    collector.feed(page)
    assets = [url for _, url in collector.urls if not url.startswith("data:")]
    assert any(tag == "script" for tag, _ in collector.urls)
    assert any(url.endswith(".css") for url in assets)
    for url in assets:
        assert not url.lower().startswith(("http:", "https:", "//")), url
        assert url.startswith("/static/"), url
    for marker in ("unpkg.com", "cdn.jsdelivr", "cdnjs", "googleapis"):
        assert marker not in page

    for url in assets:
        asset = await api.http.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
        kind = asset.headers["content-type"]
        expected = "javascript" if url.endswith(".js") else "css"
        assert expected in kind, (url, kind)


async def test_no_api_documentation_page_loads_from_a_cdn(api: GraphQLClient) -> None:
    """Litestar's /schema pages (Redoc, Swagger UI) come from public CDNs: blank offline."""
    for path in ("/schema", "/schema/redoc", "/schema/swagger", "/schema/openapi.json"):
        response = await api.http.get(path)
        for marker in ("cdn.jsdelivr", "unpkg.com", "redoc.standalone", "swagger-ui-bundle"):
            assert marker not in response.text, (path, marker)
        assert not response.headers.get("content-type", "").startswith("application/vnd.oai")


async def test_static_router_does_not_escape_its_folder(api: GraphQLClient) -> None:
    for path in ("/static/../backend/app.py", "/static/%2e%2e/backend/app.py", "/static/nope.js"):
        response = await api.http.get(path)
        assert response.status_code == 404, path
        assert "create_app" not in response.text


async def test_the_root_is_the_public_portal_and_graphiql_stays_at_graphql(
    api: GraphQLClient,
) -> None:
    """``/`` is the portal router's (no redirect any more): the built landing page, or before
    ``make`` has built it the 503 page saying so. GraphiQL is still at GET /graphql."""
    response = await api.http.get("/", follow_redirects=False)
    assert "location" not in response.headers
    if (DIST_DIR / "index.html").is_file():
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == NO_CACHE
    else:
        assert response.status_code == 503
        assert response.text == NOT_BUILT
    for path in ("/app/login", "/gov/login"):
        assert (await api.http.get(path)).status_code == response.status_code, path
    graphiql = await api.http.get("/graphql", headers={"Accept": "text/html"})
    assert graphiql.status_code == 200
    assert graphiql.headers["content-type"].startswith("text/html")


# --- GraphQL error codes ------------------------------------------------------------------------


async def test_unauthenticated_code(api: GraphQLClient) -> None:
    result = await api.query("{ sites { id } }")
    assert result.codes == ["UNAUTHENTICATED"], result.body


@pytest.mark.parametrize("site_id", ["random", "not-a-uuid", "", "other-tenant"])
async def test_unknown_or_malformed_site_is_not_found(
    api: GraphQLClient, world: World, site_id: str
) -> None:
    value = {"random": str(uuid.uuid4()), "other-tenant": str(world.b.site_id)}.get(
        site_id, site_id
    )
    result = await api.query(
        "query($id: ID!) { site(id: $id) { id name } }",
        {"id": value},
        as_user=world.a.users["owner"],
    )
    assert result.codes == ["NOT_FOUND"], result.body
    assert result.data is None


async def test_own_site_is_found(api: GraphQLClient, world: World) -> None:
    result = await api.query(
        "query($id: ID!) { site(id: $id) { id divisionCode } }",
        {"id": str(world.a.site_id)},
        as_user=world.a.users["viewer"],
    )
    assert result.code is None, result.body
    assert result.data["site"] == {"id": str(world.a.site_id), "divisionCode": world.a.division}


@pytest.mark.parametrize("division", ["999999", "12345", "abcdef", "3201020", "000000", ""])
async def test_bad_division_code_in_create_site(
    api: GraphQLClient, world: World, division: str
) -> None:
    result = await api.query(
        """mutation($t: ID!, $n: String!, $d: String!) {
             createSite(tenantId: $t, name: $n, divisionCode: $d) { id }
           }""",
        {"t": str(world.a.tenant_id), "n": unique("二厂"), "d": division},
        as_user=world.a.users["owner"],
    )
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert result.data is None


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ sites { id noSuchField } }", {}),
        ("{ noSuchQuery }", {}),
        ("{ sites { id ", {}),  # syntax error
        ("query($id: ID!) { site(id: $id) { id } }", {}),  # missing variable
        ("query($n: Int) { sites(first: $n) { id } }", {"n": 1}),  # unknown argument
        ("query($id: ID!) { site(id: $id) { id } }", {"id": {"nested": True}}),  # bad type
    ],
)
async def test_invalid_documents_are_bad_user_input(
    api: GraphQLClient, world: World, query: str, variables: dict[str, object]
) -> None:
    result = await api.query(query, variables, as_user=world.a.users["owner"])
    assert result.status in (200, 400)
    assert result.codes, result.body
    assert set(result.codes) == {"BAD_USER_INPUT"}, result.body


async def test_every_error_carries_a_code(api: GraphQLClient, world: World) -> None:
    known = {"UNAUTHENTICATED", "NOT_FOUND", "FORBIDDEN", "BAD_USER_INPUT"}
    result = await api.query(
        'query($id: ID!) { a: site(id: "x") { id } b: site(id: $id) { id } }',
        {"id": str(uuid.uuid4())},
        as_user=world.a.users["owner"],
    )
    assert result.data is None
    assert result.codes, result.body
    assert set(result.codes) == {"NOT_FOUND"}, result.body
    for error in result.body["errors"]:
        assert error["extensions"]["code"] in known


# --- internal errors stay opaque ----------------------------------------------------------------


@pytest.fixture
async def broken_client(tmp_path: Path, chdb_dir: Path) -> AsyncIterator[tuple[Runtime, object]]:
    """An app on a relational store that was never migrated: every query fails inside."""
    runtime = Runtime(make_settings(tmp_path, chdb_dir))
    try:
        async with AsyncTestClient(app=create_app(runtime=runtime)) as client:
            yield runtime, client
    finally:
        await runtime.close()


def assert_opaque(text: str) -> None:
    for marker in LEAK_MARKERS:
        assert marker not in text, f"{marker!r} leaked: {text[:500]}"


async def test_internal_error_in_a_resolver_is_opaque(
    broken_client: tuple[Runtime, AsyncTestClient],
    caplog: pytest.LogCaptureFixture,  # type: ignore[type-arg]
) -> None:
    _, client = broken_client
    with caplog.at_level(logging.ERROR, logger="anjian"):
        response = await client.post(
            "/graphql",
            json={
                "query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p) "
                "{ token } }",
                "variables": {"e": "a@example.cn", "p": "whatever1"},
            },
        )
    assert_opaque(response.text)
    result = Result(response.status_code, response.json())
    assert result.codes == ["INTERNAL_SERVER_ERROR"], result.body
    error = result.body["errors"][0]
    assert error["message"] == "internal error"
    assert set(error) <= {"message", "locations", "path", "extensions"}
    assert set(error["extensions"]) == {"code"}
    # The operators still get the details, in the log.
    assert any(r.exc_info for r in caplog.records if r.name.startswith("anjian"))


async def test_internal_error_while_resolving_the_caller_is_opaque(
    broken_client: tuple[Runtime, AsyncTestClient],  # type: ignore[type-arg]
) -> None:
    runtime, client = broken_client
    token = runtime.tokens.issue(TokenClaims(uuid.uuid4(), uuid.uuid4()))
    response = await client.post(
        "/graphql",
        json={"query": "{ me { email } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code in (200, 500, 503)
    assert_opaque(response.text)
    body = json.loads(response.text)
    assert "errors" in body or "detail" in body


async def test_graphiql_fonts_are_files_the_csp_allows(api: GraphQLClient) -> None:
    """The vendored stylesheet embeds its fonts as data: URLs, which the CSP refuses; the page
    loads the derived stylesheet, whose fonts are files of the server's own."""
    from portal.graphiql_fonts import FOLDER, SOURCE, TARGET, extract_fonts

    css, fonts = extract_fonts((FOLDER / SOURCE).read_text(encoding="utf-8"))
    assert (FOLDER / TARGET).read_text(encoding="utf-8") == css  # regenerated, not hand-edited
    assert "data:font" not in css and len(fonts) > 10
    page = (await api.http.get("/graphql", headers={"Accept": "text/html"})).text
    assert f"/static/graphiql/{TARGET}" in page and SOURCE not in page
    for name, data in list(fonts.items())[:3]:
        served = await api.http.get(f"/static/graphiql/{name}")
        assert served.status_code == 200 and served.content == data
