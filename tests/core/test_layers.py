"""The import arrows of docs/architecture.md, checked on every module: each package imports only
packages below it, the runtime is wiring that only the entry points import, and ClickHouse's
client libraries are reached from ``backend/telemetry`` alone."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("backend", "privacy", "tenants", "portal")

# Lower ranks never import higher ones; packages of the same rank never import each other.
RANK: dict[str, float] = {
    "backend.core": 0,
    "privacy": 1,
    "tenants": 2,
    "backend.auth": 3,
    "backend.telemetry": 4,
    "backend.alarms": 5,
    "backend.oversight": 6,
    "backend.response": 6,
    # A hazard report is handled into the government's inspections and notices.
    "backend.reports": 6.5,
    "backend.models": 7,
    "backend.migrate": 7,
    "backend.demo": 7,
    "backend.jobs": 8,
    "backend.backup": 8,
    "backend.api": 9,
    "backend.runtime": 9,
    "portal": 9,
    "backend.bench": 10,
    "backend.app": 10,
    "backend.server": 11,
    "backend.cli": 12,
}
ENTRY_POINTS = {"backend.app", "backend.server", "backend.cli"}
CLICKHOUSE_CLIENTS = {"clickhouse_connect", "chdb"}


def unit(module: str) -> str:
    """The layer a module belongs to: ``backend.<package>`` inside backend, else its top."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "backend" and len(parts) > 1 else parts[0]


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "node_modules" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            if name != "backend.__init__":  # the namespace of the layers, not one of them
                yield name.removesuffix(".__init__"), path


def imports(path: Path) -> Iterator[str]:
    """Every absolute import in the module, at its top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


ARROWS = [
    (module, imported)
    for module, path in modules()
    for imported in imports(path)
    if imported.split(".")[0] in PACKAGES
]


def test_every_package_has_a_layer() -> None:
    unplaced = {unit(m) for m, _ in modules()} - RANK.keys()
    assert not unplaced, f"give these packages a rank in {__name__}.RANK: {sorted(unplaced)}"


def test_imports_only_point_down_the_layers() -> None:
    upward = sorted(
        f"{module} imports {imported}"
        for module, imported in ARROWS
        if unit(module) != unit(imported)
        and unit(imported) in RANK
        and RANK[unit(imported)] >= RANK.get(unit(module), -1)
    )
    assert not upward, "\n".join(upward)


def test_only_the_entry_points_import_the_runtime() -> None:
    wired = sorted(
        module
        for module, imported in ARROWS
        if unit(imported) == "backend.runtime" and unit(module) not in ENTRY_POINTS
    )
    assert not wired, f"receive the narrow stores as parameters instead: {wired}"


@pytest.mark.parametrize("client", sorted(CLICKHOUSE_CLIENTS))
def test_clickhouse_is_reached_from_telemetry_alone(client: str) -> None:
    outside = sorted(
        module
        for module, path in modules()
        if unit(module) != "backend.telemetry"
        and any(name.split(".")[0] == client for name in imports(path))
    )
    assert not outside, outside
