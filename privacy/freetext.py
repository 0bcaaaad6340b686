"""Free text at rest: personal data found in it is masked on write, where the catalog says so.

Notes, causes and reasons are typed by people and may name others and how to reach them
("已通知张工 13812345678"). The catalog (``privacy/catalog.yaml``) declares, for each such
column, ``at_rest=seal`` — the text is encrypted whole (a ``Sealed`` attribute over a ``*_enc``
column; ``test_privacy_at_rest`` checks the model matches) — or ``at_rest=mask``: the alarm
record needs the words, not the numbers in them, so PII detection (``privacy.pii``: mobiles,
ID numbers by checksum, bank cards by Luhn, e-mail addresses, plates) replaces them by their
kind (``[手机号]``) before the row is written, and no one, the database's backups included,
holds them afterwards (data minimisation, PIPL art. 6). Output treatment per audience still
applies on top.

The hook runs in the ORM's before-insert and before-update events of every mapped class, so
a new service writing one of these columns cannot forget it; a Core ``insert()``/``update()``
of such a column would bypass it, and the test walks every ``at_rest=mask`` column through
its service instead.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.orm import Mapper

from backend.core.db import Base
from privacy import pii
from privacy.catalog import AtRest, catalog


@cache
def masked_attributes(mapper: Mapper[Any]) -> tuple[str, ...]:
    """The attributes of ``mapper``'s class whose columns the catalog masks at rest."""
    table = getattr(mapper.local_table, "name", None)
    if table is None:
        return ()
    keys = []
    for column in mapper.columns:
        policy = catalog().column(table, column.name)
        if policy is not None and policy.at_rest is AtRest.MASK:
            keys.append(mapper.get_property_by_column(column).key)
    return tuple(keys)


def mask_personal_data(text: str) -> str:
    """The text with every identifier PII detection finds replaced by its kind (``[手机号]``):
    nothing of it is kept, not even the digits a display mask leaves, because the stored
    text is what every audience's treatment starts from (a regulator's included)."""
    return pii.redact_text(text)


def _mask_on_write(mapper: Mapper[Any], _connection: Connection, target: Any) -> None:
    for key in masked_attributes(mapper):
        value = target.__dict__.get(key)  # only what this flush writes; no lazy load
        if isinstance(value, str):
            masked = mask_personal_data(value)
            if masked != value:
                setattr(target, key, masked)


event.listen(Base, "before_insert", _mask_on_write, propagate=True)
event.listen(Base, "before_update", _mask_on_write, propagate=True)
