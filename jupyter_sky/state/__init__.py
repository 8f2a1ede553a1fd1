"""The state store: clusters, cell runs (spend records) and detached jobs in one SQLite file
shared by every notebook kernel of a user.

``schema`` holds the migrations and the record types, ``journal_mode`` picks WAL or the rollback
journal for the filesystem, ``store`` is the :class:`Store` that reads and writes them;
``recover`` rebuilds a damaged database from its readable rows and the per-cluster journal
beside it, ``pending`` holds the runs a full disk kept out of the database.
"""

from jupyter_sky.state.journal_mode import (
    MOUNTS_FILE,
    NETWORK_FILESYSTEMS,
    filesystem_type,
    journal_mode_for,
)
from jupyter_sky.state.schema import (
    CLUSTER_COLUMNS,
    CLUSTER_STATES,
    JOB_COLUMNS,
    MIGRATIONS,
    PANEL,
    RUN_STATUSES,
    ClusterRecord,
    DetachedJob,
)
from jupyter_sky.state.store import BUSY_TIMEOUT_MS, DB_FILE, Store, ended_from_panel

__all__ = [
    "BUSY_TIMEOUT_MS",
    "CLUSTER_COLUMNS",
    "CLUSTER_STATES",
    "DB_FILE",
    "JOB_COLUMNS",
    "MIGRATIONS",
    "MOUNTS_FILE",
    "NETWORK_FILESYSTEMS",
    "PANEL",
    "RUN_STATUSES",
    "ClusterRecord",
    "DetachedJob",
    "Store",
    "ended_from_panel",
    "filesystem_type",
    "journal_mode_for",
]
