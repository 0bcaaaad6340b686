"""The links in mails: absolute, on ANJIAN_PUBLIC_URL, to the page of the recipient's portal,
whatever Host the request that caused the mail named (password-reset poisoning)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from backend.runtime import Runtime
from tests.auth.test_invitations import ACCEPT_NEW, INVITE, member, memberships, tenant
from tests.conftest import PUBLIC_URL
from tests.factories import World, unique
from tests.graphql import GraphQLClient, Result
from tests.ingest_helpers import eventually
from tests.mailbox import body_of, messages_to

REQUEST = """mutation($e: String!) { requestPasswordReset(email: $e) }"""
RESET = """mutation($t: String!, $p: String!) { resetPassword(token: $t, password: $p) }"""
NEW_PASSWORD = "harbour-quill-58"
# What an attacker sends along with a reset request for someone else's address.
FORGED = {
    "Host": "evil.example.net",
    "X-Forwarded-Host": "evil.example.net",
    "X-Forwarded-Proto": "http",
    "Forwarded": "host=evil.example.net;proto=http",
    "Origin": "https://evil.example.net",
}
_LINK = re.compile(r"(\S+://\S+\?token=\S+)")


async def forged(
    api: GraphQLClient, query: str, variables: dict[str, Any], token: str | None = None
) -> Result:
    headers = dict(FORGED)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = await api.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    return Result(response.status_code, response.json())


async def mailed_links(rt: Runtime, email: str) -> tuple[list[str], str]:
    """The links of the one mail sent to ``email``, and its whole text."""

    async def found() -> list[Any]:
        return await messages_to(rt, email)

    (message,) = await eventually(found, lambda m: len(m) >= 1, within=20)
    body = body_of(message)
    return _LINK.findall(body), body


def token_of(link: str) -> str:
    (token,) = parse_qs(urlsplit(link).query)["token"]
    return token


async def test_a_reset_link_is_on_the_public_url_whatever_host_the_request_named(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    email = await member(runtime, tenant(world.a), "viewer", "poison")
    asked = await forged(api, REQUEST, {"e": email})
    assert asked.data == {"requestPasswordReset": True}, asked.body
    links, body = await mailed_links(runtime, email)
    assert "evil" not in body
    # Both languages carry the same absolute link, to the enterprise portal's reset page.
    assert len(links) == 2 and links[0] == links[1], body
    assert links[0].startswith(f"{PUBLIC_URL}/app/reset-password?token="), body
    assert body.index("请打开下面的链接") < body.index("Open this link")  # Chinese first
    # The token in the link is the one that works.
    done = await api.query(RESET, {"t": token_of(links[0]), "p": NEW_PASSWORD})
    assert done.data == {"resetPassword": True}, done.body
    assert (await api.login(email, NEW_PASSWORD)).data


async def test_a_regulator_is_sent_to_the_government_portal_to_reset(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    email = await member(runtime, "gov:320100", "analyst", "gov-reset")
    assert (await api.query(REQUEST, {"e": email})).data == {"requestPasswordReset": True}
    links, body = await mailed_links(runtime, email)
    assert links and links[0].startswith(f"{PUBLIC_URL}/gov/reset-password?token="), body


async def test_an_invitation_links_to_the_accept_page_of_its_portal(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    owner = await member(runtime, tenant(world.a), "owner", "inviter")
    owner_token = await api.token_for(owner)
    fresh = f"link.{unique('n')}@example.cn"
    sent = await forged(
        api, INVITE, {"d": tenant(world.a), "e": fresh, "r": "operator"}, token=owner_token
    )
    assert sent.code is None, sent.body
    links, body = await mailed_links(runtime, fresh)
    assert "evil" not in body and "acceptInvitation" not in body
    assert len(links) == 2 and links[0] == links[1], body
    assert links[0].startswith(f"{PUBLIC_URL}/app/accept-invitation?token="), body
    assert body.index("请打开下面的链接") < body.index("Open this link")
    accepted = await api.query(ACCEPT_NEW, {"t": token_of(links[0]), "p": NEW_PASSWORD})
    assert accepted.data == {"acceptInvitation": True}, accepted.body
    assert (tenant(world.a), "operator") in await memberships(api, fresh, NEW_PASSWORD)

    # A regulator's invitation opens the government portal's page.
    analyst = f"gov-link.{unique('n')}@example.cn"
    director = world.regulators["320000"]
    variables = {"d": "gov:320000", "e": analyst, "r": "analyst"}
    sent = await api.query(INVITE, variables, as_user=director)
    assert sent.code is None, sent.body
    links, body = await mailed_links(runtime, analyst)
    assert links and links[0].startswith(f"{PUBLIC_URL}/gov/accept-invitation?token="), body
