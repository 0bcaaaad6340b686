"""Off-site encrypted backups (异地灾备): ``anjian backup create`` and ``anjian backup restore``."""

from backend.backup.archive import BackupRefused, OpenedArchive, open_archive
from backend.backup.service import (
    BackupReport,
    Checked,
    NoProgress,
    Progress,
    RestoreFailed,
    RestoreReport,
    create_backup,
    restore_backup,
)

__all__ = [
    "BackupRefused",
    "BackupReport",
    "Checked",
    "NoProgress",
    "OpenedArchive",
    "Progress",
    "RestoreFailed",
    "RestoreReport",
    "create_backup",
    "open_archive",
    "restore_backup",
]
