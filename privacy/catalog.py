"""The classification catalog: what every stored column and every GraphQL field holds, and
what each audience gets to see of it.

``privacy/catalog.yaml`` declares each column (``tables``) and each GraphQL field
(``graphql``) as ``"<class> [<kind>] [<audience>=<treatment> ...]"``:

- the *class* — ``public``, ``internal`` (operational data), ``personal`` (PIPL art. 4),
  ``sensitive`` (PIPL art. 28: biometrics, health such as heart rate, precise location,
  ID numbers, minors) or ``confidential`` (business secrets) — picks a default treatment per
  audience from ``classes``;
- the *kind* says how a treatment is carried out on the value (a name is masked ``张*``, a
  mobile ``138****1234``, free text by PII detection, a point generalised to a grid cell);
- overrides change one audience's treatment for one field;
- ``at_rest=seal`` or ``at_rest=mask`` says how a free-text column that may carry personal
  data is stored: sealed (encrypted under the tenant's data key, ``privacy.crypto``) or with
  the identifiers PII detection finds in it replaced by their kind on write
  (``privacy.freetext``).

Audiences: the enterprise roles (``owner``, ``safety_manager``, ``operator``, ``viewer``),
``government`` (regulators, within their jurisdiction), ``public`` and ``platform`` (the
platform administrator, who sees no tenant data). ``apply`` carries a treatment out; the
GraphQL layer applies the catalog to every field it resolves, so a new resolver cannot forget.
A test fails when a column or a field has no declaration.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import yaml

from backend.core.errors import BadInput, ConfigurationError
from privacy import masking, pii


class DataClass(enum.StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    PERSONAL = "personal"
    SENSITIVE = "sensitive"
    CONFIDENTIAL = "confidential"


class Treatment(enum.StrEnum):
    SHOW = "show"
    MASK = "mask"
    PSEUDONYMIZE = "pseudonymize"
    GENERALIZE = "generalize"
    SUPPRESS = "suppress"
    AGGREGATE = "aggregate"  # only in aggregates with small cells withheld; never row by row


class AtRest(enum.StrEnum):
    """How a free-text column that may carry personal data is stored."""

    SEAL = "seal"  # encrypted whole: the text is needed as written (a permit's contacts)
    MASK = "mask"  # identifiers masked on write: the record needs the text, not the numbers


class Kind(enum.StrEnum):
    PLAIN = "plain"  # identifiers, codes, numbers, statuses: no finer treatment than suppress
    NAME = "name"
    MOBILE = "mobile"
    ID_NUMBER = "id_number"
    EMAIL = "email"
    CONTACT = "contact"  # an e-mail, a mobile or a URL, whichever it is
    TEXT = "text"  # free text: PII spans detected and masked
    POINT = "point"  # one coordinate
    TIME = "time"
    VALUE = "value"  # a measurement (health readings are sensitive)
    SECRET = "secret"


AUDIENCES = (
    "owner",
    "safety_manager",
    "operator",
    "viewer",
    "government",
    "public",
    "platform",
)
ENTERPRISE_AUDIENCES = AUDIENCES[:4]
WITHHELD = "[已隐藏]"  # what a non-null text field shows when its value is withheld
# Generalised coordinates: a 0.1° cell (about 11 km), enough to place a site in its county.
POINT_CELL_DEG = 0.1


@dataclass(frozen=True)
class Policy:
    data_class: DataClass
    kind: Kind
    treatments: Mapping[str, Treatment] = field(default_factory=dict)
    at_rest: AtRest | None = None

    def treatment(self, audience: str) -> Treatment:
        return self.treatments[audience]

    @property
    def always_shown(self) -> bool:
        """Nothing to do for anyone: not personal, and every audience sees it as it is."""
        return not self.personal and all(t is Treatment.SHOW for t in self.treatments.values())

    @property
    def personal(self) -> bool:
        """Reading it in any form is a read of personal data, audited."""
        return self.data_class in (DataClass.PERSONAL, DataClass.SENSITIVE)


@dataclass(frozen=True)
class Catalog:
    version: int
    tables: Mapping[str, Mapping[str, Policy]]
    graphql: Mapping[str, Mapping[str, Policy]]

    def column(self, table: str, column: str) -> Policy | None:
        return self.tables.get(table, {}).get(column)

    def graphql_field(self, type_name: str, field_name: str) -> Policy | None:
        return self.graphql.get(type_name, {}).get(field_name)


def _parse_entry(
    where: str, text: object, defaults: Mapping[str, Mapping[str, Treatment]]
) -> Policy:
    if not isinstance(text, str) or not text.split():
        raise ConfigurationError(f"privacy catalog {where}: expected '<class> [<kind>] …'")
    words = text.split()
    try:
        data_class = DataClass(words[0])
    except ValueError:
        raise ConfigurationError(f"privacy catalog {where}: unknown class {words[0]!r}") from None
    kind = Kind.PLAIN
    rest = words[1:]
    if rest and "=" not in rest[0]:
        try:
            kind = Kind(rest[0])
        except ValueError:
            raise ConfigurationError(f"privacy catalog {where}: unknown kind {rest[0]!r}") from None
        rest = rest[1:]
    treatments = dict(defaults[data_class.value])
    at_rest: AtRest | None = None
    for override in rest:
        audience, _, value = override.partition("=")
        if audience == "at_rest":
            try:
                at_rest = AtRest(value)
            except ValueError:
                raise ConfigurationError(
                    f"privacy catalog {where}: at_rest is seal or mask, not {value!r}"
                ) from None
            continue
        if audience not in AUDIENCES:
            raise ConfigurationError(f"privacy catalog {where}: unknown audience {audience!r}")
        try:
            treatments[audience] = Treatment(value)
        except ValueError:
            raise ConfigurationError(
                f"privacy catalog {where}: unknown treatment {value!r}"
            ) from None
    return Policy(data_class, kind, treatments, at_rest)


def parse_catalog(text: str) -> Catalog:
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict) or {"version", "classes", "tables", "graphql"} - raw.keys():
        raise ConfigurationError("privacy catalog: needs version, classes, tables, graphql")
    defaults: dict[str, dict[str, Treatment]] = {}
    for cls in DataClass:
        row = raw["classes"].get(cls.value)
        if not isinstance(row, dict) or set(row) != set(AUDIENCES):
            raise ConfigurationError(
                f"privacy catalog classes.{cls.value}: give a treatment for each of "
                + ", ".join(AUDIENCES)
            )
        defaults[cls.value] = {a: Treatment(row[a]) for a in AUDIENCES}

    def section(name: str) -> dict[str, dict[str, Policy]]:
        return {
            owner: {
                key: _parse_entry(f"{name}.{owner}.{key}", entry, defaults)
                for key, entry in (entries or {}).items()
            }
            for owner, entries in raw[name].items()
        }

    return Catalog(int(raw["version"]), section("tables"), section("graphql"))


@cache
def catalog() -> Catalog:
    text = resources.files("privacy").joinpath("catalog.yaml").read_text(encoding="utf-8")
    return parse_catalog(text)


# -- carrying a treatment out -----------------------------------------------------------------

_MASKERS: dict[Kind, Callable[[str], str]] = {
    Kind.NAME: masking.mask_name,
    Kind.MOBILE: masking.mask_mobile,
    Kind.ID_NUMBER: masking.mask_id_number,
    Kind.EMAIL: masking.mask_email,
    Kind.TEXT: pii.mask_text,
}
_PSEUDONYM_PREFIX = {Kind.NAME: "W", Kind.MOBILE: "M", Kind.ID_NUMBER: "I", Kind.EMAIL: "E"}


def _mask_contact(value: str) -> str:
    if "@" in value:
        return masking.mask_email(value)
    if value.lstrip("+").isdigit():
        return masking.mask_mobile(value[-11:]) if len(value) >= 11 else "*" * len(value)
    return value.split("?", 1)[0][:40] + "…"  # a URL: its host and path, no query secrets


def _withheld(value: Any) -> Any:
    return WITHHELD if isinstance(value, str) else None


def apply(
    policy: Policy,
    treatment: Treatment,
    value: Any,
    pseudonym_key: Callable[[], bytes] | None = None,
) -> Any:
    """The value as ``treatment`` leaves it. ``pseudonym_key`` gives the owning tenant's key
    (pseudonyms are stable within a tenant and unlinkable across tenants)."""
    if value is None or treatment is Treatment.SHOW:
        return value
    if isinstance(value, list):
        return [apply(policy, treatment, v, pseudonym_key) for v in value]
    kind = policy.kind
    if treatment is Treatment.MASK:
        if kind is Kind.CONTACT and isinstance(value, str):
            return _mask_contact(value)
        masker = _MASKERS.get(kind)
        if masker is not None and isinstance(value, str):
            try:
                return masker(value)
            # Not the shape the masker expects (maskers refuse with BadInput): withhold it.
            except (ValueError, BadInput):
                return _withheld(value)
        if kind in (Kind.POINT, Kind.TIME):
            return apply(policy, Treatment.GENERALIZE, value, pseudonym_key)
        return _withheld(value)
    if treatment is Treatment.PSEUDONYMIZE:
        if kind is Kind.TEXT and isinstance(value, str):
            return pii.redact_text(value)
        if kind in (Kind.POINT, Kind.TIME):
            return apply(policy, Treatment.GENERALIZE, value, pseudonym_key)
        if kind is Kind.VALUE:
            return value  # a reading carries no identity; whose it is, is pseudonymized
        if pseudonym_key is None or not isinstance(value, str):
            return _withheld(value)
        return masking.pseudonymize(pseudonym_key(), value, prefix=_PSEUDONYM_PREFIX.get(kind, "P"))
    if treatment is Treatment.GENERALIZE:
        if kind is Kind.POINT and isinstance(value, int | float):
            return round(round(float(value) / POINT_CELL_DEG) * POINT_CELL_DEG, 6)
        if kind is Kind.TIME and isinstance(value, datetime):
            return masking.generalize_to_hour(value)
        return _withheld(value)
    return _withheld(value)  # SUPPRESS, AGGREGATE
