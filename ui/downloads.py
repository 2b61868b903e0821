"""Files the app hands out (a scored CSV, a model zip), each through a fresh folder of Gradio's own upload folder.

Gradio serves only files under its upload folder, the working directory or the temp dir, unless `allowed_paths`
names more; the data folder may be anywhere (`--data-dir /srv/studio`), and allowing it would serve everyone's
uploads and the job store to anyone who guesses a path. So a download is a hard link (a copy across file systems)
of the one file, in a folder with a random 128-bit name made for that one request, and old folders are swept away.
"""
from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path

from backend.schemas import StudioError

FOLDER = "studio-downloads"
KEEP_SECONDS = 6 * 3600  # a link shown on a page stays good this long; then its folder is swept away


def upload_folder() -> Path:
    """Where Gradio puts what browsers and API clients upload (GRADIO_TEMP_DIR, or its folder in the temp dir)."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder())


def hand_out(path: str | Path) -> str:
    """The path Gradio may serve for `path`: a link to the same file in a fresh, unguessable folder of its own."""
    source = Path(path)
    root = upload_folder() / FOLDER
    try:
        sweep(root)
        folder = root / secrets.token_hex(16)
        folder.mkdir(parents=True, mode=0o700)
        target = folder / source.name
        try:
            os.link(source, target)  # no second copy of a zip of hundreds of MB on the same file system
        except OSError:
            shutil.copyfile(source, target)
    except OSError:
        raise StudioError(f"{source.name} is ready on the server but could not be handed to your browser; "
                          "try again, or ask the person who runs the server to check its free disk space.") from None
    return str(target)


def sweep(root: Path, keep_seconds: float = KEEP_SECONDS) -> None:
    """Remove the hand-out folders older than `keep_seconds`."""
    if not root.is_dir():
        return
    cutoff = time.time() - keep_seconds
    for folder in root.iterdir():
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # swept by a concurrent request
            continue
