"""The app as a public Space runs it (private mode): a library per visitor, examples for all, a bounded disk."""

import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import TINY_FRAMES, TINY_SIZE, serve

from motion_inversion.errors import MotionInversionError
from motion_inversion.jobs import JobBoard
from motion_inversion.library import MotionLibrary
from motion_inversion.owners import Libraries, Visitors, owner_key
from motion_inversion.scratch import prune
from motion_inversion.video import read_clip

MAX_TEMP_FILES = 8


@pytest.fixture(scope="module")
def space(tiny_pipeline_dir, clip_path, tmp_path_factory):
    """app.py in private mode on the tiny pipeline, with its own temp folder (to count what it leaves there) and
    an examples library holding one motion."""
    root = tmp_path_factory.mktemp("space")
    examples = MotionLibrary(root / "examples")
    examples.add_copy(learned_once(tiny_pipeline_dir, clip_path, root / "seed-library"), "wave")
    (root / "tmp").mkdir()
    env = {
        **os.environ, "MOTION_INVERSION_PRIVATE": "1", "MOTION_LIBRARY": str(root / "libraries"),
        "MOTION_INVERSION_MODEL": str(tiny_pipeline_dir), "MOTION_INVERSION_EXAMPLES": str(examples.folder),
        "MOTION_INVERSION_MAX_TEMP_FILES": str(MAX_TEMP_FILES), "TMPDIR": str(root / "tmp"),
        "GRADIO_TEMP_DIR": str(root / "tmp" / "gradio"),
    }  # fmt: skip
    process, client = serve(env)
    try:
        yield root, client
    finally:
        process.terminate()
        process.wait(30)


def learned_once(model_dir, clip_path, folder):
    from motion_inversion import load_model
    from motion_inversion.inversion import invert

    motion = invert(load_model(model_dir, device="cpu"), clip_path, steps=2, inversion_steps=2)
    return MotionLibrary(folder).add(motion, "wave")


def another_visitor(client):
    from gradio_client import Client

    return Client(client.src, verbose=False)


def refused(call, message: str) -> None:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message):
        call()


def test_each_visitor_sees_only_their_own_motions(space, clip_path, tiny_pipeline_dir):
    from gradio_client import handle_file

    root, alice = space
    bob = another_visitor(alice)
    status = alice.predict(handle_file(str(clip_path)), "orbit", "", str(tiny_pipeline_dir), 3, "base", 0,
                           api_name="/invert")[0]  # fmt: skip
    assert "Saved **orbit** to your library" in status
    assert [m["name"] for m in alice.predict(api_name="/list_motions")] == ["orbit", "examples/wave"]
    assert [m["name"] for m in bob.predict(api_name="/list_motions")] == ["examples/wave"]
    (alices_file,) = (root / "libraries" / "users").glob("session-*/orbit.safetensors")
    before = alices_file.read_bytes()
    refused(lambda: bob.predict("orbit", "stolen", api_name="/rename"), "no motion named 'orbit'")
    refused(lambda: bob.predict("orbit", api_name="/delete"), "no motion named 'orbit'")
    refused(lambda: bob.predict("orbit", api_name="/download"), "no motion named 'orbit'")
    refused(lambda: bob.predict("../" + alices_file.parent.name + "/orbit", api_name="/download"), "no motion named")
    with pytest.raises(urllib.error.HTTPError, match="403"):  # nor by where the library lives: it is not served
        urllib.request.urlopen(f"{alice.src.rstrip('/')}/gradio_api/file={alices_file}")
    assert alices_file.read_bytes() == before
    assert Path(alice.predict("orbit", api_name="/download")).read_bytes() == before  # its owner gets it


def test_examples_are_read_only_and_can_be_copied(space):
    _, client = space
    refused(lambda: client.predict("examples/wave", "mine", api_name="/rename"), "is an example")
    refused(lambda: client.predict("examples/wave", api_name="/delete"), "is an example")
    status = client.predict("examples/wave", api_name="/copy_example")[0]
    assert "Copied to your library as **wave**" in status
    assert "wave" in [m["name"] for m in client.predict(api_name="/list_motions")]
    video, *_ = client.predict(
        "examples/wave", "a red circle", "", "object", 1.0, 0, 2, 0, False, None, api_name="/generate"
    )
    assert read_clip(video, 100, *TINY_SIZE).frames.shape[:3] == (TINY_FRAMES, *TINY_SIZE)


def test_twenty_generations_stay_within_the_disk_bound(space):
    root, client = space
    for seed in range(20):
        video, *_ = client.predict(
            "examples/wave", "a blue square", "", "object", 1.0, seed, 2, 0, False, None, api_name="/generate"
        )
        assert Path(video).is_file()
    left = [p for p in (root / "tmp").rglob("*") if p.is_file()]
    assert len(left) <= MAX_TEMP_FILES, sorted(str(p.relative_to(root)) for p in left)


# -- the parts, without a server ---------------------------------------------------------------------------------
def test_owner_keys_are_never_paths():
    assert owner_key("hf", "alice") == "hf-alice"
    for bad in ("../alice", "a/b", "", ".hidden", "x" * 200, "a\nb"):
        with pytest.raises(MotionInversionError, match="not a valid visitor id"):
            owner_key("anon", bad)
    visitors = Visitors("server-side key")
    kept = visitors.arrive("page-1", "../../etc")  # an unreadable id gets a fresh one
    assert kept != "../../etc" and visitors.owner("page-1") == f"anon-{kept.split('.')[0]}"
    assert visitors.arrive("page-2", kept) == kept and visitors.owner("page-2") == visitors.owner("page-1")
    api_owner = visitors.owner("page-3")  # an API client: a server-issued key, the same for the whole session
    assert api_owner.startswith("session-") and "page-3" not in api_owner and visitors.owner("page-3") == api_owner
    assert visitors.owner("page-4") != api_owner and visitors.owner("page-3", "bob") == "hf-bob"
    fresh = {visitors.arrive(f"new-{n}", "") for n in range(500)}  # every fresh id is a valid key (a 1-in-32 bug)
    assert len(fresh) == 500


def test_an_anonymous_id_the_server_did_not_sign_is_replaced():
    """The browser keeps `<id>.<signature>`; the signing key stays on the server (Gradio's BrowserState key is
    sent to every page, so its encryption protects nothing)."""
    visitors = Visitors("server-side key")
    token = visitors.arrive("page-1", "")
    browser_id, signature = token.split(".")
    victim = visitors.owner("page-1")
    forgeries = [browser_id, f"{browser_id}.{'0' * 32}", f"{browser_id}.{signature[:-1]}x", f"{'a' * 32}.{signature}"]
    for forged in forgeries:
        replacement = visitors.arrive("attacker", forged)
        assert replacement != forged and visitors.owner("attacker") != victim
    other_server = Visitors("another key")  # a token from another deployment is not this one's either
    assert other_server.arrive("page-9", token) != token


def test_idle_anonymous_libraries_are_cleaned_and_signed_in_ones_kept(tmp_path):
    libraries = Libraries(tmp_path, private=True, anonymous_days=7)
    for owner in ("anon-old", "anon-new", "hf-old", "session-old"):
        libraries.library(owner).folder.mkdir(parents=True)
    month_ago = time.time() - 30 * 86400
    for owner in ("anon-old", "hf-old", "session-old"):
        os.utime(tmp_path / "users" / owner, (month_ago, month_ago))
    assert sorted(libraries.clean_idle()) == ["anon-old", "session-old"]
    assert sorted(p.name for p in (tmp_path / "users").iterdir()) == ["anon-new", "hf-old"]
    with pytest.raises(MotionInversionError, match="sign in or reload"):
        libraries.library("")


def test_prune_keeps_the_newest_files(tmp_path):
    for index in range(6):
        path = tmp_path / f"job-{index}" / "video.mp4"
        path.parent.mkdir()
        path.write_bytes(b"x")
        os.utime(path, (1000 + index, 1000 + index))
    assert prune([tmp_path], 2) == 4
    assert sorted(p.parent.name for p in tmp_path.rglob("*.mp4")) == ["job-4", "job-5"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job-4", "job-5"]  # emptied folders go too


def test_the_queue_estimates_from_recent_jobs_of_each_kind():
    board = JobBoard()
    for kind, seconds in (("learn", 0.2), ("generate", 0.05)):
        job = board.open(kind, "anon-a", "s1")
        with board.run(job):
            time.sleep(seconds)
    running = board.open("learn", "anon-a", "s1")
    waiting = board.open("generate", "anon-b", "s2")
    mine = board.open("generate", "anon-c", "s3")
    assert board.ahead_of(running) == (0, 0.0)
    ahead, wait = board.ahead_of(mine)
    assert ahead == 2 and 0.2 <= wait <= 0.4
    assert board.stop(owner="anon-b") == 1 and waiting.should_stop() and not running.should_stop()
    board.forget("s2")
    assert board.ahead_of(mine)[0] == 1
    with pytest.raises(MotionInversionError, match="stopped before it started"):
        with board.run(waiting):
            pass


def test_the_browser_secret_survives_restarts_and_an_unwritable_folder(tmp_path):
    from motion_inversion.owners import browser_secret

    first = browser_secret(tmp_path / "lib")
    assert first and browser_secret(tmp_path / "lib") == first  # kept beside the libraries
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")  # the library folder cannot be made: as on read-only storage
    assert browser_secret(blocked / "lib") == browser_secret(blocked / "lib")  # one per process, no OSError


def test_prune_keeps_the_cache_within_its_bytes_too(tmp_path):
    for index in range(5):
        path = tmp_path / "cache" / f"{index}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x" * 1000)
        os.utime(path, (time.time() - 100 + index, time.time() - 100 + index))
    assert prune([tmp_path / "cache"], max_files=100, max_bytes=2500) == 3  # the oldest go first
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["3.bin", "4.bin"]
