"""Whose library a request works on: one shared library for local use, one per visitor on a public Space.

Private mode (`SPACE_ID` set, or `MOTION_INVERSION_PRIVATE=1`) gives each visitor a library of their own under
`<root>/users/<owner>`, where the owner key is
- `hf-<user name>` for a visitor signed in with Hugging Face: kept;
- `anon-<random id>` for an anonymous visitor, the id kept in their browser;
- `session-<random id>` for an API client, issued by the server for its session (which lasts as long as its
  `Client`).
Anonymous and session libraries unused for `MOTION_INVERSION_ANON_DAYS` days (default 7) are deleted by
`clean_idle`. Local mode keeps the single library at `<root>`, as before.

Examples (the sample clips learned ahead, or the folder `MOTION_INVERSION_EXAMPLES` names) form a read-only
library everyone sees; a motion there is named `examples/<name>` ("/" never appears in a library name).
"""

import hashlib
import hmac
import os
import re
import secrets
import shutil
import threading
import time
from pathlib import Path

from .errors import MotionInversionError
from .library import MotionEntry, MotionLibrary

EXAMPLES_PREFIX = "examples/"
OWNER_KEY = re.compile(r"^(hf|anon|session)-[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
EXPIRING_KINDS = ("anon-", "session-")  # signed-in visitors' libraries are kept


def private_mode_from_env() -> bool:
    return bool(os.environ.get("SPACE_ID")) or os.environ.get("MOTION_INVERSION_PRIVATE", "") == "1"


def anonymous_days_from_env() -> float:
    return float(os.environ.get("MOTION_INVERSION_ANON_DAYS", "7"))


def quotas_from_env() -> tuple[int, int]:
    """Each visitor's library on a public Space: at most MOTION_INVERSION_QUOTA_MOTIONS motions (default 50) and
    MOTION_INVERSION_QUOTA_MB megabytes (default 500; a toy motion is 0.2 MB, a ZeroScope one 111 MB)."""
    motions = int(os.environ.get("MOTION_INVERSION_QUOTA_MOTIONS", "50"))
    megabytes = float(os.environ.get("MOTION_INVERSION_QUOTA_MB", "500"))
    return motions, int(megabytes * 2**20)


def owner_key(kind: str, identity: str) -> str:
    """The library key of a visitor: kind is hf, anon or session. Refuses anything that could leave the folder."""
    key = f"{kind}-{identity}"
    if not OWNER_KEY.match(key):
        raise MotionInversionError(f"not a valid visitor id: {key!r}")
    return key


class Libraries:
    def __init__(self, root: str | os.PathLike, private: bool = False, examples: str | os.PathLike | None = None,
                 anonymous_days: float = 7.0, quota_motions: int | None = None,
                 quota_bytes: int | None = None):  # fmt: skip
        """`quota_motions` and `quota_bytes` bound each visitor's library in private mode (quotas_from_env)."""
        self.root = Path(root).expanduser()
        self.private = private
        self.quota_motions, self.quota_bytes = quota_motions, quota_bytes
        self.anonymous_days = anonymous_days
        self.examples = MotionLibrary(examples) if examples and Path(examples).is_dir() else None

    def library(self, owner: str = "") -> MotionLibrary:
        """The library of `owner` (local mode: the one library, whoever asks)."""
        if not self.private:
            return MotionLibrary(self.root)
        if not OWNER_KEY.match(owner or ""):
            raise MotionInversionError("this app keeps a library per visitor: sign in or reload the page")
        folder = self.root / "users" / owner
        if folder.is_dir() and owner.startswith(EXPIRING_KINDS):
            os.utime(folder)  # last use: idle libraries are cleaned after anonymous_days
        return MotionLibrary(folder, self.quota_motions, self.quota_bytes)

    # -- names across the visitor's library and the examples ---------------------------------------------------------
    def names(self, owner: str = "") -> list[str]:
        """The visitor's motions, newest first, then the examples."""
        examples = [EXAMPLES_PREFIX + name for name in self.examples.names()] if self.examples else []
        return self.library(owner).names() + examples

    def entries(self, owner: str = "") -> list[tuple[str, MotionEntry]]:
        own = [(e.name, e) for e in self.library(owner).entries()]
        examples = [(EXAMPLES_PREFIX + e.name, e) for e in self.examples.entries()] if self.examples else []
        return own + examples

    def entry(self, owner: str, name: str) -> MotionEntry:
        """A motion by the name the page shows: the visitor's own, or `examples/<name>`."""
        if name.startswith(EXAMPLES_PREFIX) and self.examples is not None:
            return self.examples.entry(name.removeprefix(EXAMPLES_PREFIX))
        return self.library(owner).entry(name)

    def own_library(self, owner: str, name: str) -> MotionLibrary:
        """The library that may change `name`: the visitor's own; examples are read-only."""
        if name.startswith(EXAMPLES_PREFIX):
            raise MotionInversionError(f"{name!r} is an example, which cannot be changed: copy it to your library")
        return self.library(owner)

    def copy_example(self, owner: str, name: str) -> MotionEntry:
        """Copy an example (motion, preview and thumbnail) into the visitor's library, under a free name."""
        if not name.startswith(EXAMPLES_PREFIX):
            raise MotionInversionError(f"{name!r} is not an example: only examples are copied")
        return self.library(owner).add_copy(self.entry(owner, name))

    # -- cleaning -------------------------------------------------------------------------------------------------
    def clean_idle(self, now: float | None = None) -> list[str]:
        """Delete the anonymous and API-session libraries unused for `anonymous_days`; returns their keys."""
        users = self.root / "users"
        if not self.private or not users.is_dir():
            return []
        cutoff = (now or time.time()) - self.anonymous_days * 86400
        removed = []
        for folder in users.iterdir():
            if folder.is_dir() and folder.name.startswith(EXPIRING_KINDS) and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder.name)
        return removed


class Visitors:
    """Which owner each open page (Gradio session) belongs to: the anonymous id its browser keeps, told to the
    server when the page loads. A session that never said (an API client) owns `session-<its id>`.

    The browser keeps `<id>.<signature>`, the signature an HMAC of the id under a key that never leaves the server
    (`secret`): an id the server did not issue -- made up, or another visitor's guessed -- is refused and replaced by
    a fresh one. (Gradio's BrowserState encryption cannot protect it: its key is sent to every page.)"""

    def __init__(self, secret: str | bytes | None = None):
        self._owners: dict[str, str] = {}
        self._lock = threading.Lock()
        secret = secret if secret is not None else secrets.token_bytes(32)
        self._key = secret.encode() if isinstance(secret, str) else secret

    def _signature(self, browser_id: str) -> str:
        return hmac.new(self._key, browser_id.encode(), hashlib.sha256).hexdigest()[:32]

    def issued(self, token: str) -> str | None:
        """The id in a token the server signed, else None."""
        browser_id, _, signature = str(token).partition(".")
        if OWNER_KEY.match(f"anon-{browser_id}") and hmac.compare_digest(signature, self._signature(browser_id)):
            return browser_id
        return None

    def arrive(self, session: str, token: str) -> str:
        """Remember the page's visitor from the token its browser keeps; returns the token to keep (a fresh one
        for a new, unreadable or forged token)."""
        browser_id = self.issued(token)
        if browser_id is None:
            browser_id = secrets.token_hex(16)  # not token_urlsafe: ids must start with a letter or digit
            token = f"{browser_id}.{self._signature(browser_id)}"
        with self._lock:
            self._owners[session] = owner_key("anon", browser_id)
        return token

    def owner(self, session: str, hf_username: str | None = None) -> str:
        """A signed-in visitor's key; else the page's anonymous one; else (an API client, whose session never said)
        a `session-<random>` key issued by the server on first use and kept for that session: the library folder
        is never named by what the client sent."""
        if hf_username:
            return owner_key("hf", hf_username)
        with self._lock:
            if session not in self._owners:
                self._owners[session] = owner_key("session", secrets.token_hex(16))
            return self._owners[session]

    def leave(self, session: str) -> None:
        with self._lock:
            self._owners.pop(session, None)


_PROCESS_SECRET = secrets.token_urlsafe(32)


def browser_secret(root: str | os.PathLike) -> str:
    """The key that encrypts the anonymous id kept in each browser, stored beside the libraries so that ids stay
    readable after a restart (Gradio's default key is new at every start, which would orphan every library). On a
    library folder that cannot be written (read-only storage), a key for this process only: the app still starts."""
    path = Path(root).expanduser() / ".browser-secret"
    try:
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "w") as handle:
                    handle.write(secrets.token_urlsafe(32))
            except FileExistsError:  # another process wrote it first
                pass
        return path.read_text().strip() or _PROCESS_SECRET
    except OSError:
        return _PROCESS_SECRET
