"""The motion library: a folder of saved motions, each a .safetensors file with a preview clip and thumbnail beside it.

    <name>.safetensors   the motion (see motion.py)
    <name>.mp4           the reference clip as learned (model size), for the gallery
    <name>.png           its middle frame

A motion's name is its file name, kept as the creator typed it (see check_name). The folder is `MOTION_LIBRARY`
when set; on a Hugging Face Space with persistent storage, `/data/motions`; else
`$XDG_DATA_HOME/motion-inversion/motions` (`~/.local/share/motion-inversion/motions`). Every write is atomic, and
a failed add, rename or import leaves the library as it was.

Many writers at once (two processes, two visitors' jobs): a name is reserved before the slow save by creating
`.<name>.reserve` with O_EXCL, which the filesystem grants to one writer only; the others are refused, or take the
next free variant (`if_taken="number"`). So two writers of one name give one motion and one refusal, or two motions,
never a silent loss. What killed writers leave behind (temporary files, reservations of dead processes, previews
without a motion) is removed when a library is opened.
"""

import os
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
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


FORBIDDEN_IN_NAMES = '/\\:*?"<>|'  # path separators, and what Windows refuses in file names
MAX_NAME_LENGTH = 80


def check_name(name: str) -> str:
    """The name as typed (surrounding spaces dropped) when it is safe as a file name: spaces and any language's
    letters are; path separators, control characters, a leading '.' (so '..') and overlong names are refused."""
    name = str(name).strip()
    if not name:
        raise MotionInversionError("the name is empty: type a name for the motion")
    bad = sorted({c for c in name if c in FORBIDDEN_IN_NAMES or unicodedata.category(c).startswith("C")})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise MotionInversionError(f"the name {name!r} contains {shown}: use letters, digits, spaces, '-' or '_'")
    if name.startswith("."):
        raise MotionInversionError(f"the name {name!r} starts with '.': start it with a letter or digit")
    if len(name) > MAX_NAME_LENGTH:
        raise MotionInversionError(f"the name is {len(name)} characters long: at most {MAX_NAME_LENGTH}, please")
    return name


def name_from_file(stem: str) -> str:
    """A motion name made from a file's name (when none was typed): what `check_name` refuses becomes '-'."""
    cleaned = "".join("-" if c in FORBIDDEN_IN_NAMES or unicodedata.category(c).startswith("C") else c for c in stem)
    return cleaned.strip(" -.")[:MAX_NAME_LENGTH] or "motion"


RESERVE_SUFFIX = ".reserve"
LEFTOVER_SECONDS = 600  # a temporary file or lone preview this old belongs to a write that was killed


def _reservation(folder: Path, name: str) -> Path:
    return folder / f".{name}{RESERVE_SUFFIX}"


def _taken(folder: Path, name: str) -> bool:
    return (folder / (name + MOTION_SUFFIX)).exists() or _reservation(folder, name).exists()


def free_name(folder: Path, name: str) -> str:
    """`name`, or name-2, name-3, ... when taken (or being saved) in `folder`."""
    candidate, index = name, 2
    while _taken(folder, candidate):
        candidate, index = f"{name}-{index}", index + 1
    return candidate


def free_path(folder: Path, name: str, suffix: str = MOTION_SUFFIX) -> Path:
    """folder/name.suffix for a name made from a file's name, or its -2, -3... variant when taken."""
    return folder / (free_name(folder, name_from_file(name)) + suffix)


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

    def __init__(self, folder: str | os.PathLike | None = None, max_motions: int | None = None,
                 max_bytes: int | None = None):  # fmt: skip
        """`max_motions` and `max_bytes` bound what the folder may hold (a visitor's quota on a public Space);
        a save beyond them is refused with a line saying so."""
        self.folder = Path(folder).expanduser() if folder is not None else default_library_dir()
        self.max_motions, self.max_bytes = max_motions, max_bytes
        self.clean_leftovers()

    def check_writable(self) -> None:
        """Refuse, before any work, when the library cannot be changed (read-only storage): one line saying so."""
        folder = self.folder
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent  # the library is made on first save: its nearest existing parent counts
        if not os.access(folder, os.W_OK):
            raise MotionInversionError(
                f"the library {self.folder} is read-only: learning, importing, renaming and deleting are off here "
                "(generating with its motions works)"
            )

    def check_quota(self) -> None:
        """Refuse a new motion when the library already holds its quota of motions or bytes."""
        if self.max_motions is None and self.max_bytes is None or not self.folder.is_dir():
            return
        paths = [path for path in self.folder.iterdir() if path.is_file()]
        motions = sum(path.suffix == MOTION_SUFFIX for path in paths)
        used = sum(path.stat().st_size for path in paths)
        if self.max_motions is not None and motions >= self.max_motions:
            raise MotionInversionError(
                f"your library is full ({motions} motions, the most kept here): delete some to make room"
            )
        if self.max_bytes is not None and used >= self.max_bytes:
            raise MotionInversionError(
                f"your library is full ({used / 2**20:.0f} MB of {self.max_bytes / 2**20:.0f} MB): delete some "
                "motions to make room"
            )

    def clean_leftovers(self, older_than: float = LEFTOVER_SECONDS) -> list[Path]:
        """Remove what killed writes left: temporary files and previews without a motion older than `older_than`
        seconds, and reservations of processes that no longer run. A read-only folder is left alone."""
        removed, now = [], time.time()
        if not self.folder.is_dir():
            return removed
        for path in self.folder.iterdir():
            try:
                if path.name.startswith(".") and path.name.endswith(".tmp"):
                    stale = now - path.stat().st_mtime > older_than
                elif path.name.startswith(".") and path.name.endswith(RESERVE_SUFFIX):
                    writer = path.read_text().strip()  # empty for an instant while its writer fills it in
                    stale = not _process_alive(writer) if writer else now - path.stat().st_mtime > older_than
                elif path.suffix in COMPANION_SUFFIXES:
                    name = path.stem
                    stale = not _taken(self.folder, name) and now - path.stat().st_mtime > older_than
                else:
                    stale = False
                if stale:
                    path.unlink()
                    removed.append(path)
            except OSError:  # read-only, or removed meanwhile by another process
                continue
        return removed

    @contextmanager
    def reserved(self, name: str, if_taken: str = "refuse") -> Iterator[Path]:
        """Reserve `name` (or, with if_taken="number", its first free variant) for one writer, atomically, and
        yield the motion's path; the reservation is released when the block ends, whatever happens. A library at
        its quota refuses (check_quota)."""
        name = check_name(name)
        self.check_writable()
        self.check_quota()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise MotionInversionError(f"cannot write to the library {self.folder}: {error.strerror}") from error
        candidate, index = name, 2
        while True:
            reservation = _reservation(self.folder, candidate)
            try:
                handle = os.open(reservation, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                pass  # another writer holds it
            except OSError as error:
                raise MotionInversionError(f"cannot write to the library {self.folder}: {error.strerror}") from error
            else:
                with os.fdopen(handle, "w") as file:
                    file.write(str(os.getpid()))
                if not (self.folder / (candidate + MOTION_SUFFIX)).exists():
                    break
                reservation.unlink()
            if if_taken != "number":
                raise MotionInversionError(
                    f"a motion named {name!r} already exists: choose another name, e.g. "
                    f"{free_name(self.folder, name)!r}"
                )
            candidate, index = f"{name}-{index}", index + 1
        try:
            yield self.folder / (candidate + MOTION_SUFFIX)
        finally:
            reservation.unlink(missing_ok=True)

    def entries(self) -> list[MotionEntry]:
        """Newest first."""
        entries = list_motions(self.folder)
        return sorted(entries, key=lambda e: (e.metadata.get("created_at", ""), e.name), reverse=True)

    def names(self) -> list[str]:
        return [entry.name for entry in self.entries()]

    def entry(self, name: str) -> MotionEntry:
        try:
            valid = check_name(name) == name  # a path, or any name no motion can have, is never looked up
        except MotionInversionError:
            valid = False
        path = self.folder / f"{name}{MOTION_SUFFIX}"
        if not valid or not path.is_file():
            raise MotionInversionError(f"no motion named {name!r} in the library")
        return MotionEntry(path, Motion.read_metadata(path))

    def check_new_name(self, name: str) -> str:
        """`name` as typed, if it is a valid name that is not taken; else a message (offering a free variant)."""
        name = check_name(name)
        if (self.folder / (name + MOTION_SUFFIX)).exists():
            raise MotionInversionError(
                f"a motion named {name!r} already exists: choose another name, e.g. {free_name(self.folder, name)!r}"
            )
        return name

    def load(self, name: str) -> Motion:
        return Motion.load(self.entry(name).path)

    def add(
        self, motion: Motion, name: str, preview_frames: np.ndarray | None = None, fps: float = 8.0,
        if_taken: str = "refuse",
    ) -> MotionEntry:  # fmt: skip
        """Save `motion` under `name` (as typed: see check_name), with its preview. A taken name is refused, or
        with `if_taken="number"` becomes name-2, name-3... (for work that must not be lost at the last moment)."""
        with self.reserved(name, if_taken) as path:
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
        """Copy a motion file into the library after checking it is one (fully read, never unpickled). Without a
        name, it is named after the file (-2, -3... when taken)."""
        source = Path(source)
        Motion.load(source)  # raises MotionInversionError naming the file for anything else
        wanted, if_taken = (name, "refuse") if name else (name_from_file(source.stem), "number")
        with self.reserved(wanted, if_taken) as path, atomic_write(path, "motion") as temp_name:
            Path(temp_name).write_bytes(source.read_bytes())
        return MotionEntry(path, Motion.read_metadata(path))

    def add_copy(self, entry: MotionEntry, name: str | None = None) -> MotionEntry:
        """Copy a motion of another library, with its preview and thumbnail, under its name (-2, -3... when
        taken) or `name` (refused when taken)."""
        wanted, if_taken = (name, "refuse") if name else (entry.name, "number")
        with self.reserved(wanted, if_taken) as path:
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
        if check_name(new_name) == name:
            return entry
        with self.reserved(new_name) as target:
            for suffix in COMPANION_SUFFIXES:  # companions first, the motion file last: it is what makes an entry
                if entry.path.with_suffix(suffix).is_file():
                    os.replace(entry.path.with_suffix(suffix), target.with_suffix(suffix))
            os.replace(entry.path, target)
        return MotionEntry(target, entry.metadata)

    def delete(self, name: str) -> None:
        entry = self.entry(name)
        self.check_writable()
        entry.path.unlink()
        _remove_companions(entry.path)


def _process_alive(pid: str) -> bool:
    """Whether the process that wrote a reservation still runs (on this machine)."""
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def _remove_companions(path: Path) -> None:
    for suffix in COMPANION_SUFFIXES:
        path.with_suffix(suffix).unlink(missing_ok=True)
