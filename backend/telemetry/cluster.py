"""Cluster DDL: the ClickHouse migrations rewritten for a replicated, sharded cluster.

With ``ANJIAN_CLICKHOUSE_CLUSTER`` set, every table of a migration becomes two:

* ``x_local`` on every node (``ON CLUSTER``), with the ``Replicated`` variant of its engine
  (``ReplicatedMergeTree('/clickhouse/tables/{shard}/anjian/x', '{replica}')``): replicas of a
  shard copy each other, and inserts with a deduplication token are deduplicated natively, so
  ``non_replicated_deduplication_window`` is dropped;
* ``x`` with ``ENGINE = Distributed(cluster, currentDatabase(), x_local,
  cityHash64(tenant_id))``: the name the application reads and writes. Sharding by tenant keeps
  all of a tenant's rows — raw, rollups, latest values — on one shard, so the materialized
  views (which read and write the ``_local`` tables of their node) aggregate complete groups.

``ALTER TABLE x`` applies to ``x_local``, and column changes to the ``Distributed`` ``x`` as well
(it must show the same columns). ``INSERT INTO x SELECT …`` (a backfill) runs as written, once,
on the ``Distributed`` tables. The migrations' SQL stays the single source: this module only
rewrites it, and refuses statements it does not know how to distribute.
"""

from __future__ import annotations

import re

from backend.core.errors import ConfigurationError


class ClusterDDLError(ConfigurationError, ValueError):
    """A cluster name or a migration statement that has no distributed form (also a
    ``ValueError``, as it has always been)."""


_CLUSTER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.{}-]*")
_NAME = r"([A-Za-z_][A-Za-z0-9_]*)"
_IF_NOT_EXISTS = r"(IF\s+NOT\s+EXISTS\s+)?"
_CREATE_TABLE = re.compile(rf"^CREATE\s+TABLE\s+{_IF_NOT_EXISTS}{_NAME}\s*\(", re.I)
_CREATE_VIEW = re.compile(
    rf"^CREATE\s+MATERIALIZED\s+VIEW\s+{_IF_NOT_EXISTS}{_NAME}\s+TO\s+{_NAME}\s+AS\s+(.*)$",
    re.I | re.S,
)
_ALTER_TABLE = re.compile(rf"^ALTER\s+TABLE\s+{_NAME}\s+(.*)$", re.I | re.S)
_DROP = re.compile(rf"^DROP\s+(TABLE|VIEW)\s+(IF\s+EXISTS\s+)?{_NAME}\s*$", re.I)
_INSERT_SELECT = re.compile(rf"^INSERT\s+INTO\s+{_NAME}\s+SELECT\b", re.I)
_ENGINE = re.compile(r"ENGINE\s*=\s*(\w*)MergeTree\b(?:\s*\(([^()]*)\))?", re.I)
_SETTINGS = re.compile(r"\n?[ \t]*\bSETTINGS\b\s+(.*)$", re.I | re.S)
_SETTING_VALUE = re.compile(r"^(MODIFY\s+SETTING\s+)(.*)$", re.I | re.S)
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\s*=")
_COLUMN_COMMAND = re.compile(r"^(ADD|DROP|MODIFY|RENAME|COMMENT|CLEAR)\s+COLUMN\b", re.I)
_TABLE_SOURCE = re.compile(rf"\b(FROM|JOIN)\s+{_NAME}\b", re.I)

DROPPED_SETTINGS = frozenset({"non_replicated_deduplication_window"})
SHARDING_KEY = "cityHash64(tenant_id)"
LOCAL_SUFFIX = "_local"


def split_statements(sql: str) -> list[str]:
    """Statements of a migration file: ``--`` comment lines dropped, split at ``;`` ending a
    line (the same rule as ``backend.telemetry.migrate``)."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*$", body, flags=re.MULTILINE) if s.strip()]


def cluster_statements(migration_sql: str, cluster: str) -> list[str]:
    """The statements that apply ``migration_sql`` to every node of ``cluster``."""
    if not _CLUSTER_NAME.fullmatch(cluster):
        raise ClusterDDLError(f"bad ClickHouse cluster name {cluster!r}")
    on = f"ON CLUSTER '{cluster}'"
    out: list[str] = []
    for statement in split_statements(migration_sql):
        out.extend(_rewrite(statement, cluster, on))
    return out


def local(name: str) -> str:
    return name if name.endswith(LOCAL_SUFFIX) else name + LOCAL_SUFFIX


def _rewrite(statement: str, cluster: str, on: str) -> list[str]:
    if match := _CREATE_TABLE.match(statement):
        return _create_table(statement, match, cluster, on)
    if match := _CREATE_VIEW.match(statement):
        if_not_exists, view, target, select = match.groups()
        select = _TABLE_SOURCE.sub(lambda m: f"{m.group(1)} {local(m.group(2))}", select)
        return [
            f"CREATE MATERIALIZED VIEW {if_not_exists or ''}{view} {on} "
            f"TO {local(target)} AS {select}"
        ]
    if match := _ALTER_TABLE.match(statement):
        return _alter_table(match.group(1), match.group(2), on)
    if match := _DROP.match(statement):
        kind, if_exists, name = match.groups()
        if kind.upper() == "VIEW":
            return [f"DROP VIEW {if_exists or ''}{name} {on} SYNC"]
        return [
            f"DROP TABLE {if_exists or ''}{name} {on} SYNC",
            f"DROP TABLE {if_exists or ''}{local(name)} {on} SYNC",
        ]
    if _INSERT_SELECT.match(statement):
        # A backfill: run once, between the Distributed tables, which read every shard and
        # send each row to its tenant's shard.
        return [statement]
    first_line = statement.splitlines()[0]
    raise ClusterDDLError(f"no cluster form known for the statement {first_line!r}")


def _closing_paren(text: str, opening: int) -> int:
    depth = 0
    for index in range(opening, len(text)):
        if text[index] == "(":
            depth += 1
        elif text[index] == ")":
            depth -= 1
            if depth == 0:
                return index
    raise ClusterDDLError("unbalanced parentheses in a CREATE TABLE statement")


def _split_top_level(text: str) -> list[str]:
    """Comma-separated items, ignoring commas inside parentheses and quotes."""
    items, depth, quote, current = [], 0, "", []
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'`\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    if "".join(current).strip():
        items.append("".join(current).strip())
    return items


def _kept_settings(settings: str) -> list[str]:
    return [
        item
        for item in _split_top_level(settings)
        if item.split("=", 1)[0].strip().lower() not in DROPPED_SETTINGS
    ]


def _create_table(statement: str, match: re.Match[str], cluster: str, on: str) -> list[str]:
    if_not_exists, name = match.group(1) or "", match.group(2)
    opening = match.end() - 1
    closing = _closing_paren(statement, opening)
    columns, rest = statement[opening : closing + 1], statement[closing + 1 :]
    engine = _ENGINE.search(rest)
    if engine is None:
        raise ClusterDDLError(f"table {name}: only *MergeTree engines have a replicated form")
    kind, arguments = engine.group(1), (engine.group(2) or "").strip()
    replicated_args = [f"'/clickhouse/tables/{{shard}}/anjian/{name}'", "'{replica}'"]
    if arguments:
        replicated_args.append(arguments)
    rest = (
        rest[: engine.start()]
        + f"ENGINE = Replicated{kind}MergeTree({', '.join(replicated_args)})"
        + rest[engine.end() :]
    )
    if settings := _SETTINGS.search(rest):
        kept = _kept_settings(settings.group(1))
        tail = f"\nSETTINGS {', '.join(kept)}" if kept else ""
        rest = rest[: settings.start()] + tail
    distributed = (
        f"CREATE TABLE {if_not_exists}{name} {on} AS {local(name)}\n"
        f"ENGINE = Distributed('{cluster}', currentDatabase(), {local(name)}, {SHARDING_KEY})"
    )
    return [f"CREATE TABLE {if_not_exists}{local(name)} {on}\n{columns}{rest}", distributed]


def _alter_commands(text: str) -> list[str]:
    """The commands of an ALTER; ``MODIFY SETTING a = 1, b = 2`` stays one command."""
    commands: list[str] = []
    for item in _split_top_level(text):
        if commands and _ASSIGNMENT.match(item) and _SETTING_VALUE.match(commands[-1]):
            commands[-1] += ", " + item
        else:
            commands.append(item)
    return commands


def _alter_table(name: str, commands_text: str, on: str) -> list[str]:
    commands: list[str] = []
    for command in _alter_commands(commands_text):
        if setting := _SETTING_VALUE.match(command):
            kept = _kept_settings(setting.group(2))
            if kept:
                commands.append(setting.group(1) + ", ".join(kept))
            continue
        commands.append(command)
    if not commands:
        return []
    column_commands = [c for c in commands if _COLUMN_COMMAND.match(c)]
    if column_commands and len(column_commands) != len(commands):
        raise ClusterDDLError(
            f"ALTER TABLE {name} mixes column changes with table changes; split it in two"
        )
    out = [f"ALTER TABLE {local(name)} {on} {', '.join(commands)}"]
    if column_commands:  # the Distributed table must show the same columns
        out.append(f"ALTER TABLE {name} {on} {', '.join(column_commands)}")
    return out
