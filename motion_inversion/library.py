"""Where saved motions live on disk: a folder of .safetensors motion files.

The folder is `MOTION_LIBRARY` when set, else `$XDG_DATA_HOME/motion-inversion/motions`
(`~/.local/share/motion-inversion/motions`).
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import MotionInversionError
from .motion import Motion


def default_library_dir() -> Path:
    if os.environ.get("MOTION_LIBRARY"):
        return Path(os.environ["MOTION_LIBRARY"]).expanduser()
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "motion-inversion" / "motions"


def safe_name(name: str) -> str:
    """A file-name-safe motion name: letters, digits, '-', '_' and '.', never a path."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(str(name)).name).strip("-.")
    return cleaned[:80] or "motion"


def free_path(folder: Path, name: str, suffix: str = ".safetensors") -> Path:
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


def list_motions(folder: str | os.PathLike | None = None) -> list[MotionEntry]:
    """The readable motions in `folder`, by name; unreadable files are skipped (they are not motions)."""
    folder = Path(folder) if folder is not None else default_library_dir()
    if not folder.is_dir():
        return []
    entries = []
    for path in sorted(folder.glob("*.safetensors")):
        try:
            entries.append(MotionEntry(path, Motion.read_metadata(path)))
        except MotionInversionError:
            continue
    return entries
