"""Atomic file writes: write a temporary file beside the target, then rename it into place.

A failure (full disk, a killed process, a cancelled job) leaves the previous file, if any, untouched and no partial
file behind.
"""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import MotionInversionError


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_write(path: str | os.PathLike, what: str = "") -> Iterator[str]:
    """Yield a temporary file name in `path`'s folder; when the block succeeds it becomes `path`.

    OSErrors become a one-line MotionInversionError naming `what` and the path. The file gets the usual permissions
    (mkstemp makes it private).
    """
    path = Path(path)
    label = f"{what} to {path}" if what else str(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix + ".tmp", dir=path.parent)
        os.close(handle)
    except OSError as error:
        raise MotionInversionError(f"cannot write {label}: {error.strerror or error}") from error
    try:
        yield temp_name
        os.chmod(temp_name, _default_mode())
        os.replace(temp_name, path)
    except OSError as error:
        raise MotionInversionError(f"cannot write {label}: {error.strerror or error}") from error
    finally:
        Path(temp_name).unlink(missing_ok=True)
