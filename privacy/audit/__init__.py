"""The append-only, hash-chained audit trail.

Each entry's hash covers its content and the previous entry's hash, so altering, removing or
reordering any entry breaks every hash after it. A single head row serialises appends (a row
lock on PostgreSQL, the write lock on SQLite), so concurrent writers cannot fork the chain.

Signed checkpoints (``privacy.checkpoints``) anchor the chain: they expose a rewrite of the
whole chain, which plain hashes cannot, and let entries older than the legal floor (six months,
Cybersecurity Law art. 21) be purged while what remains still verifies.

Modules: ``_entries`` (the rows and their hash), ``_record`` (appending), ``_verify`` (walking
the chain), ``_checkpoints`` (signing the head), ``_purge`` (the floor and the purge),
``_export`` (files for an inspection), ``_query`` (a tenant's entries read back in its console).
"""

from privacy.audit._checkpoints import CheckpointResult, create_checkpoint
from privacy.audit._entries import (
    GENESIS,
    Actor,
    AuditChainBroken,
    AuditEntry,
    AuditHead,
    entry_hash,
)
from privacy.audit._export import EXPORT_COLUMNS, ExportReport, check_export_window, export_entries
from privacy.audit._purge import (
    CHINA_TIME,
    RETENTION_FLOOR_MONTHS,
    PurgeReport,
    check_purge_cutoff,
    purge_before_in_own_transaction,
    retention_floor,
)
from privacy.audit._query import (
    CSV_COLUMNS,
    MAX_PAGE,
    CsvRow,
    EntryFilter,
    entries_csv,
    list_entries,
)
from privacy.audit._record import READ_ACTION, record, record_change, record_read, record_sync
from privacy.audit._verify import ChainReport, verify_chain

__all__ = [
    "CHINA_TIME",
    "CSV_COLUMNS",
    "EXPORT_COLUMNS",
    "GENESIS",
    "MAX_PAGE",
    "READ_ACTION",
    "RETENTION_FLOOR_MONTHS",
    "Actor",
    "AuditChainBroken",
    "AuditEntry",
    "AuditHead",
    "ChainReport",
    "CheckpointResult",
    "CsvRow",
    "EntryFilter",
    "ExportReport",
    "PurgeReport",
    "check_export_window",
    "check_purge_cutoff",
    "create_checkpoint",
    "entries_csv",
    "entry_hash",
    "export_entries",
    "list_entries",
    "purge_before_in_own_transaction",
    "record",
    "record_change",
    "record_read",
    "record_sync",
    "retention_floor",
    "verify_chain",
]
