"""Off-site encrypted backups (异地灾备): ``anjian backup create`` and ``anjian backup restore``."""

from backend.backup._shared import NoProgress, Progress, Stores
from backend.backup.archive import BackupRefused, OpenedArchive, open_archive
from backend.backup.create import BackupReport, create_backup
from backend.backup.restore import Checked, RestoreFailed, RestoreReport, restore_backup

__all__ = [
    "BackupRefused",
    "BackupReport",
    "Checked",
    "NoProgress",
    "OpenedArchive",
    "Progress",
    "RestoreFailed",
    "RestoreReport",
    "Stores",
    "create_backup",
    "open_archive",
    "restore_backup",
]
