"""Who a data key belongs to, and what goes wrong reading or writing sealed values."""

from __future__ import annotations

import uuid

from backend.core.errors import AnjianError, Gone

Owner = uuid.UUID | None  # a tenant, or None for platform data
KeyRef = tuple[Owner, int]  # (owner, data-key version)


def owner_label(owner: Owner) -> str:
    return "platform" if owner is None else f"tenant:{owner}"


class SealedDataError(AnjianError):
    """A sealed value cannot be read."""


class DataKeyDestroyed(SealedDataError, Gone):
    code = "DATA_ERASED"

    def __init__(self, owner: Owner) -> None:
        super().__init__(
            f"数据已销毁，无法读取 / the data key of {owner_label(owner)} was destroyed "
            "(crypto-shredded); its encrypted values can no longer be read or written",
            owner=owner_label(owner),
        )


class CiphertextInvalid(SealedDataError):
    code = "DATA_INTEGRITY"


class KeyNotLoaded(SealedDataError):
    """Rows read without the key fetch (streamed) whose key is not cached."""


class SealedFieldMisuse(AnjianError):
    """A sealed attribute used in a way that cannot work (compared with ``==``, given a
    non-string, looked up without a blind index): a fault in the calling code, answered as
    an internal error."""
