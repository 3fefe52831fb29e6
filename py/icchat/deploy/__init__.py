"""`icchat deploy`: sync a folder to an asset canister (the official assetstorage interface) in
one atomic batch, uploading only what changed, resumable after an interruption. Host-only.

    from icchat.deploy import sync_folder, TerminalProgress
    report = sync_folder(agent, canister_id, folder, progress=TerminalProgress(), journal=path)

See sync.py for the steps, config.py for `.ic-assets.json5`, journal.py for resuming.
"""

from icchat.deploy.progress import SyncProgress, TerminalProgress
from icchat.deploy.sync import CHUNK_BYTES, DeployError, SyncReport, sync_folder

__all__ = ["CHUNK_BYTES", "DeployError", "SyncProgress", "SyncReport", "TerminalProgress", "sync_folder"]
