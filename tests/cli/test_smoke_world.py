from __future__ import annotations

from tests.factories import World
from tests.graphql import GraphQLClient


async def test_owner_lists_own_site_only(api: GraphQLClient, world: World) -> None:
    result = await api.query(
        "{ sites { id name sensors { code } } }", as_user=world.a.users["owner"]
    )
    assert result.code is None, result.body
    ids = {s["id"] for s in result.data["sites"]}
    assert str(world.a.site_id) in ids
    assert str(world.b.site_id) not in ids
