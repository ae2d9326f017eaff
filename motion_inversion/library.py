"""The motion library: a folder of saved motions, each a .safetensors file with a preview clip and thumbnail beside it.

    <name>.safetensors   the motion (see motion.py)
    <name>.mp4           the reference clip as learned (model size), for the gallery
    <name>.png           its middle frame

The folder is `MOTION_LIBRARY` when set; on a Hugging Face Space with persistent storage, `/data/motions`; else
`$XDG_DATA_HOME/motion-inversion/motions` (`~/.local/share/motion-inversion/motions`). Every write is atomic, and
a failed add, rename or import leaves the library as it was.
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import MotionInversionError
from .files import atomic_write
from .motion import Motion
from .video import write_mp4, write_thumbnail

MOTION_SUFFIX = ".safetensors"
COMPANION_SUFFIXES = (".mp4", ".png")  # preview clip and thumbnail, kept beside the motion under the same name


def default_library_dir() -> Path:
    if os.environ.get("MOTION_LIBRARY"):
        return Path(os.environ["MOTION_LIBRARY"]).expanduser()
    if os.environ.get("SPACE_ID") and os.path.isdir("/data") and os.access("/data", os.W_OK):
        return Path("/data/motions")  # a Space's persistent storage: survives restarts
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "motion-inversion" / "motions"


def safe_name(name: str) -> str:
    """A file-name-safe motion name: letters, digits, '-', '_' and '.', never a path."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(str(name)).name).strip("-.")
    return cleaned[:80] or "motion"


def free_path(folder: Path, name: str, suffix: str = MOTION_SUFFIX) -> Path:
    """folder/name.suffix, or name-2, name-3, ... when taken."""
    stem = safe_name(name)
    candidate, index = folder / f"{stem}{suffix}", 2
    while candidate.exists():
        candidate, index = folder / f"{stem}-{index}{suffix}", index + 1
    return candidate


@dataclass(frozen=True)
class MotionEntry:
    path: Path
    metadata: dict[str, str]

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def preview(self) -> Path | None:
        path = self.path.with_suffix(".mp4")
        return path if path.is_file() else None

    @property
    def thumbnail(self) -> Path | None:
        path = self.path.with_suffix(".png")
        return path if path.is_file() else None

    @property
    def summary(self) -> str:
        """One line for a gallery caption: base model, frames, size, date."""
        meta = self.metadata
        return (
            f"{meta['base_model']} · {meta['num_frames']} frames · {meta['width']}x{meta['height']} · "
            f"{meta['created_at'][:10]}"
        )


def list_motions(folder: str | os.PathLike | None = None) -> list[MotionEntry]:
    """The readable motions in `folder`, by name; unreadable files are skipped (they are not motions)."""
    folder = Path(folder) if folder is not None else default_library_dir()
    if not folder.is_dir():
        return []
    entries = []
    for path in sorted(folder.glob("*" + MOTION_SUFFIX)):
        try:
            entries.append(MotionEntry(path, Motion.read_metadata(path)))
        except MotionInversionError:
            continue
    return entries


class MotionLibrary:
    """Add, list, rename, delete and import saved motions in one folder."""

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder).expanduser() if folder is not None else default_library_dir()

    def entries(self) -> list[MotionEntry]:
        """Newest first."""
        entries = list_motions(self.folder)
        return sorted(entries, key=lambda e: (e.metadata.get("created_at", ""), e.name), reverse=True)

    def names(self) -> list[str]:
        return [entry.name for entry in self.entries()]

    def entry(self, name: str) -> MotionEntry:
        path = self.folder / (safe_name(name) + MOTION_SUFFIX)
        if safe_name(name) != name or not path.is_file():
            raise MotionInversionError(f"no motion named {name!r} in the library ({self.folder})")
        return MotionEntry(path, Motion.read_metadata(path))

    def load(self, name: str) -> Motion:
        return Motion.load(self.entry(name).path)

    def add(
        self, motion: Motion, name: str, preview_frames: np.ndarray | None = None, fps: float = 8.0
    ) -> MotionEntry:
        """Save `motion` under a free version of `name` (sanitised; `-2`, `-3`... when taken), with its preview."""
        path = free_path(self.folder, name)
        if preview_frames is not None:  # companions first: a motion never appears without them
            write_mp4(preview_frames, path.with_suffix(".mp4"), fps=fps)
            write_thumbnail(preview_frames, path.with_suffix(".png"))
        try:
            motion.save(path)
        except BaseException:
            _remove_companions(path)
            raise
        return MotionEntry(path, Motion.read_metadata(path))

    def import_file(self, source: str | os.PathLike, name: str | None = None) -> MotionEntry:
        """Copy a motion file into the library after checking it is one (fully read, never unpickled)."""
        source = Path(source)
        Motion.load(source)  # raises MotionInversionError naming the file for anything else
        path = free_path(self.folder, name or source.stem)
        with atomic_write(path, "motion") as temp_name:
            Path(temp_name).write_bytes(source.read_bytes())
        return MotionEntry(path, Motion.read_metadata(path))

    def add_copy(self, entry: MotionEntry, name: str | None = None) -> MotionEntry:
        """Copy a motion of another library, with its preview and thumbnail, under a free version of its name."""
        path = free_path(self.folder, name or entry.name)
        sources = [(entry.path.with_suffix(s), path.with_suffix(s)) for s in COMPANION_SUFFIXES]
        try:  # companions first, the motion last: it is what makes an entry
            for source, target in [*sources, (entry.path, path)]:
                if source.is_file():
                    with atomic_write(target, "motion") as temp_name:
                        Path(temp_name).write_bytes(source.read_bytes())
        except BaseException:
            _remove_companions(path)
            raise
        return MotionEntry(path, Motion.read_metadata(path))

    def rename(self, name: str, new_name: str) -> MotionEntry:
        entry = self.entry(name)
        target = self.folder / (safe_name(new_name) + MOTION_SUFFIX)
        if target == entry.path:
            return entry
        if target.exists():
            raise MotionInversionError(f"a motion named {target.stem!r} already exists: choose another name")
        for suffix in COMPANION_SUFFIXES:  # companions first, the motion file last: it is what makes an entry
            if entry.path.with_suffix(suffix).is_file():
                os.replace(entry.path.with_suffix(suffix), target.with_suffix(suffix))
        os.replace(entry.path, target)
        return MotionEntry(target, entry.metadata)

    def delete(self, name: str) -> None:
        entry = self.entry(name)
        entry.path.unlink()
        _remove_companions(entry.path)


def _remove_companions(path: Path) -> None:
    for suffix in COMPANION_SUFFIXES:
        path.with_suffix(suffix).unlink(missing_ok=True)
