"""Client networks refused by the public report routes, managed by the platform administrator
(``anjian reports block|unblock|blocklist``). A blocked client is told so (403) and nothing it
sends is read further. Adding or removing an entry is audited."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import BadInput, Forbidden, NotFound
from backend.reports.models import ReportBlock
from privacy.audit import Actor, record

MAX_REASON = 200
BLOCKED = (
    "您所在的网络已被禁止提交举报；如有疑问请拨打 12350 / submissions from your network are "
    "blocked; call the 12350 hotline to report instead"
)


@dataclass(frozen=True)
class Block:
    network: str
    reason: str | None
    created_at: datetime


def parse_network(value: str) -> str:
    """A network in CIDR form (a bare address is its /32 or /128), normalised."""
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise BadInput(
            f"须为 IP 地址或 CIDR 网段 / expected an IP address or a CIDR network such as "
            f"203.0.113.0/24, got {value!r}"
        ) from None


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


async def refuse_blocked(session: AsyncSession, client_address: str) -> None:
    """``Forbidden`` when the client's address lies in a blocked network."""
    networks = list(await session.scalars(select(ReportBlock.network)))
    if not networks:
        return
    address = _address(client_address)
    if address is None:
        return
    for network in networks:
        if address in ipaddress.ip_network(network):
            raise Forbidden(BLOCKED)


async def block_network(
    session: AsyncSession, *, network: str, reason: str | None, actor: Actor
) -> Block:
    cidr = parse_network(network)
    if reason is not None and len(reason) > MAX_REASON:
        raise BadInput(f"the reason is at most {MAX_REASON} characters")
    if await session.scalar(select(ReportBlock.id).where(ReportBlock.network == cidr)):
        raise BadInput(f"{cidr} 已在禁止名单中 / {cidr} is already blocked")
    row = ReportBlock(network=cidr, reason=reason)
    session.add(row)
    await session.flush()
    await record(
        session,
        actor,
        "report_block.add",
        domain="platform",
        object_type="report_block",
        object_id=row.id,
        detail={"network": cidr},
    )
    return Block(cidr, reason, row.created_at)


async def unblock_network(session: AsyncSession, *, network: str, actor: Actor) -> str:
    cidr = parse_network(network)
    removed = await session.scalar(
        delete(ReportBlock).where(ReportBlock.network == cidr).returning(ReportBlock.id)
    )
    if removed is None:
        raise NotFound(f"{cidr} 不在禁止名单中 / {cidr} is not blocked")
    await record(
        session,
        actor,
        "report_block.remove",
        domain="platform",
        object_type="report_block",
        object_id=removed,
        detail={"network": cidr},
    )
    return cidr


async def list_blocks(session: AsyncSession) -> list[Block]:
    rows = await session.scalars(select(ReportBlock).order_by(ReportBlock.network))
    return [Block(r.network, r.reason, r.created_at) for r in rows]
