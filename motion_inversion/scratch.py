"""Temporary files the app makes (generated videos, copies of a visitor's motion handed out), bounded.

The app puts this folder inside Gradio's cache, so Gradio hands its files to the page as they are instead of
copying each one again. Gradio serves files there to whoever knows their path, so every file sits in a folder with
an unguessable name (128 random bits, like Gradio's own content hashes). `prune` keeps the newest files under the
folders it is given, at most `max_files` of them and `max_bytes` in all, so a public Space's disk does not grow with
every visitor (a count alone let 500 uploads of 200 MB fill ~100 GB).
"""

import hashlib
import hmac
import os
import secrets
import shutil
import tempfile
from pathlib import Path


class Scratch:
    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="motion-inversion-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self._key = secrets.token_bytes(32)  # makes handed-out copies' folder names unguessable

    def new_folder(self) -> Path:
        """A fresh folder with an unguessable name, for one result."""
        folder = self.folder / secrets.token_hex(16)
        folder.mkdir(parents=True)  # prune may have removed an emptied scratch folder
        return folder

    def derived_path(self, source: Path, name: str) -> Path:
        """Where a file made from `source` (a library file) goes: the same place while `source` is unchanged, so
        it is made once; the folder name is unguessable."""
        stat = source.stat()
        identity = f"{source.resolve()}|{stat.st_mtime_ns}|{stat.st_size}".encode()
        return self.folder / hmac.new(self._key, identity, hashlib.sha256).hexdigest()[:32] / name

    def hand_out(self, path: Path) -> Path:
        """A copy of `path` (a library file) that can be given to the page without serving the library folder.
        The same file, unchanged, is copied once."""
        copy = self.derived_path(path, path.name)
        if not copy.is_file():
            copy.parent.mkdir(parents=True, exist_ok=True)
            temp = copy.with_name(f".{copy.name}.tmp")
            shutil.copyfile(path, temp)
            os.replace(temp, copy)
        return copy


def prune(folders: list[Path], max_files: int, max_bytes: int | None = None) -> int:
    """Delete the oldest files under `folders` beyond the newest `max_files` (and beyond `max_bytes` in all), and
    the folders left empty; returns how many files were deleted."""
    files = []
    for folder in folders:
        if folder.is_dir():
            for path in folder.rglob("*"):
                try:
                    if path.is_file():
                        stat = path.stat()
                        files.append((stat.st_mtime, stat.st_size, path))
                except OSError:  # deleted meanwhile by another request
                    continue
    files.sort(key=lambda item: item[0], reverse=True)
    kept, total = 0, 0
    for _, size, _ in files:
        if kept == max_files or (max_bytes is not None and total + size > max_bytes):
            break
        kept, total = kept + 1, total + size
    deleted = 0
    for _, _, path in files[kept:]:
        path.unlink(missing_ok=True)
        deleted += 1
        for parent in path.parents:
            if parent in folders or not any(parent == f or f in parent.parents for f in folders):
                break
            try:
                parent.rmdir()  # only when empty
            except OSError:
                break
    return deleted
