"""Encryption at rest: sealed columns under per-tenant data keys wrapped by the master keyring.

Envelope
    Each tenant has random 256-bit data keys (versions 1, 2, …) stored in ``tenant_data_keys``
    wrapped with AES-256-GCM under a key that HKDF derives from one master keyring version
    (the row records which). Users' e-mail addresses are platform data, sealed the same way
    under ``platform_data_keys``. ``rotate_data_keys`` re-wraps every live data key under the
    newest master version and issues a new data-key version per owner: new writes use the new
    key while older ciphertexts keep naming the version they were sealed under.

Ciphertext
    ``format (1 byte) | data-key version (4 bytes, big-endian) | nonce (12 random bytes) |
    AES-256-GCM ciphertext and tag``. The associated data is the header plus
    ``table.field | owner | row id`` (owner ``tenant:<uuid>`` or ``platform``), so a value
    copied into another column, row or tenant fails authentication instead of decrypting.

Blind index
    Look-ups by an encrypted value (sign-in by e-mail) compare an HMAC-SHA256 of the normalised
    value. Its key is derived from the owner's data key *version 1*, whose value never changes:
    a master rotation re-wraps that key without altering it, so indexes stay valid with no
    recomputation and an ordinary unique constraint keeps enforcing uniqueness.

Crypto-shredding
    ``destroy_tenant_key`` erases the wrapped material of every version of a tenant's data key
    and leaves tombstones, so no new key is issued for it; its sealed columns then raise
    ``DataKeyDestroyed`` while other tenants read as before. PostgreSQL keeps dead row versions
    until VACUUM and backups keep what they copied: both must age out for the erasure to be
    complete.

ORM
    A model mixes in ``SealedRecord`` and declares ``name = Sealed[str]("name_enc")`` beside
    its ``name_enc`` column. Assigning plaintext keeps it on the instance and seals it at
    flush, in the mapper's before-insert/update events, which know the row's tenant and id.
    Reading decrypts on first access, without I/O: after every ORM SELECT of a sealed class the
    rows are buffered and the keys they name are fetched in the same transaction (on
    PostgreSQL row-level security limits that to the session's tenants). Rows streamed with
    ``yield_per`` skip that step and read only keys already cached. The key store is bound to a
    session factory (``bind_key_store``), not to the process: one process may hold several.

Caches
    Unwrapped keys stay in the store's bounded LRU for ``ttl_seconds``. Destruction and
    rotation clear it in their own process at once and in other processes within the TTL
    (the keyring file is re-read then too, or at once for an unknown master version). A key
    that a transaction creates, rotates or destroys is kept to that session until it commits,
    so a rolled-back change can never reach the shared cache.

Modules
    ``_cipher`` (the primitives), ``_tables`` (key rows), ``_store`` (the key store and its
    cache), ``_keys`` (one transaction's keys, ``RowSealer``), ``_binding`` (store to session),
    ``_columns`` (``Sealed`` and the ORM events), ``_operations`` (rotation, shredding, status).
"""

from privacy.crypto._binding import bind_key_store, key_store_of
from privacy.crypto._cipher import (
    blind_index,
    field_aad,
    seal,
    sealed_version,
    unseal,
    unwrap_data_key,
    wrap_data_key,
)
from privacy.crypto._columns import Sealed, SealedRecord
from privacy.crypto._errors import (
    CiphertextInvalid,
    DataKeyDestroyed,
    KeyNotLoaded,
    SealedDataError,
    SealedFieldMisuse,
)
from privacy.crypto._keys import RowSealer
from privacy.crypto._operations import (
    RotationReport,
    destroy_tenant_key,
    key_status,
    rotate_data_keys,
)
from privacy.crypto._store import KeyStore
from privacy.crypto._tables import PlatformDataKey, TenantDataKey

__all__ = [
    "CiphertextInvalid",
    "DataKeyDestroyed",
    "KeyNotLoaded",
    "KeyStore",
    "PlatformDataKey",
    "RotationReport",
    "RowSealer",
    "Sealed",
    "SealedDataError",
    "SealedFieldMisuse",
    "SealedRecord",
    "TenantDataKey",
    "bind_key_store",
    "blind_index",
    "destroy_tenant_key",
    "field_aad",
    "key_status",
    "key_store_of",
    "rotate_data_keys",
    "seal",
    "sealed_version",
    "unseal",
    "unwrap_data_key",
    "wrap_data_key",
]

# Free text declared ``at_rest=mask`` is masked by ORM events registered beside these ones.
import privacy.freetext  # noqa: F401
