"""The motion library: add with previews, rename, delete, import (validated), and it survives a restart."""

import numpy as np
import pytest
import torch

from motion_inversion import Motion, MotionInversionError
from motion_inversion.library import MotionLibrary
from motion_inversion.video import read_clip


def small_motion(base_model: str = "tiny-unet3d") -> Motion:
    torch.manual_seed(0)
    return Motion(
        embeddings={"down_blocks.1.temp_attentions.0.transformer_blocks.0.query_key": torch.randn(8, 64)},
        base_model=base_model, family="unet3d", num_frames=8, height=32, width=32, latent_height=16,
        latent_width=16, target_blocks=["down_blocks.1.temp_attentions.0"], steps=3, loss=0.5,
    )  # fmt: skip


def files(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def frames():
    return np.random.default_rng(0).integers(0, 255, (8, 32, 32, 3), dtype=np.uint8)


def test_add_keeps_preview_and_thumbnail_and_the_name_as_typed(tmp_path, frames):
    library = MotionLibrary(tmp_path / "lib")
    entry = library.add(small_motion(), " My orbit · été ", preview_frames=frames)
    assert entry.name == "My orbit · été" and entry.path.parent == tmp_path / "lib"
    assert read_clip(entry.preview, 8, 32, 32).frames.shape == (8, 32, 32, 3)
    assert entry.thumbnail.read_bytes()[:4] == b"\x89PNG"
    assert "tiny-unet3d · 8 frames · 32x32" in entry.summary
    with pytest.raises(MotionInversionError, match="'My orbit · été' already exists: .* e.g. 'My orbit · été-2'"):
        library.add(small_motion(), "My orbit · été")  # never overwrites, never renames silently
    assert library.add(small_motion(), "My orbit · été", if_taken="number").name == "My orbit · été-2"


@pytest.mark.parametrize(
    "name, message",
    [("../../etc/x", "contains '.', '/'|contains '/'"), ("my orbit / test", "contains '/'"), ("..", "starts with '.'"),
     ("", "the name is empty"), ("   ", "the name is empty"), ("a\nb", r"contains '\\n'"), ("x" * 81, "at most 80")],
)  # fmt: skip
def test_unsafe_names_are_refused_with_the_reason_and_nothing_is_written(tmp_path, name, message):
    library = MotionLibrary(tmp_path)
    with pytest.raises(MotionInversionError, match=message):
        library.add(small_motion(), name)
    assert list(tmp_path.iterdir()) == []


def test_rename_moves_the_companions_and_refuses_a_taken_name(tmp_path, frames):
    library = MotionLibrary(tmp_path)
    library.add(small_motion(), "a", preview_frames=frames)
    library.add(small_motion(), "b")
    renamed = library.rename("a", "walk cycle")
    assert renamed.name == "walk cycle" and renamed.preview and renamed.thumbnail
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "b.safetensors", "walk cycle.mp4", "walk cycle.png", "walk cycle.safetensors"
    ]  # fmt: skip
    before = files(tmp_path)
    with pytest.raises(MotionInversionError, match="a motion named 'b' already exists"):
        library.rename("walk cycle", "b")
    with pytest.raises(MotionInversionError, match="contains '/'"):
        library.rename("walk cycle", "../b")
    with pytest.raises(MotionInversionError, match="no motion named 'nope'"):
        library.rename("nope", "c")
    assert files(tmp_path) == before


def test_delete_removes_everything_of_that_motion_only(tmp_path, frames):
    library = MotionLibrary(tmp_path)
    library.add(small_motion(), "a", preview_frames=frames)
    library.add(small_motion(), "b", preview_frames=frames)
    library.delete("a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.mp4", "b.png", "b.safetensors"]
    with pytest.raises(MotionInversionError, match="no motion named '../b'"):
        library.delete("../b")


def test_import_copies_a_motion_bit_identical(tmp_path):
    source = small_motion().save(tmp_path / "shared.safetensors")
    library = MotionLibrary(tmp_path / "lib")
    entry = library.import_file(source)
    assert entry.name == "shared" and entry.path.read_bytes() == source.read_bytes()


@pytest.mark.parametrize("content", [b"", b"not a motion at all", b"\x80\x04\x95pickle"])
def test_import_refuses_what_is_not_a_motion_and_changes_nothing(tmp_path, content):
    library = MotionLibrary(tmp_path / "lib")
    library.add(small_motion(), "kept")
    before = files(library.folder)
    bad = tmp_path / "evil.safetensors"
    bad.write_bytes(content)
    with pytest.raises(MotionInversionError, match="evil.safetensors"):
        library.import_file(bad)
    assert files(library.folder) == before


def test_the_library_survives_a_restart(tmp_path, frames):
    MotionLibrary(tmp_path).add(small_motion(), "orbit", preview_frames=frames)
    reopened = MotionLibrary(tmp_path)  # a new process sees the same folder
    assert reopened.names() == ["orbit"]
    key = "down_blocks.1.temp_attentions.0.transformer_blocks.0.query_key"
    stored = small_motion().embeddings[key].half().float()  # motion files hold float16 (motion.py)
    assert torch.equal(reopened.load("orbit").embeddings[key], stored)


def test_default_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTION_LIBRARY", str(tmp_path / "mine"))
    assert MotionLibrary().folder == tmp_path / "mine"


def test_the_studio_refuses_an_over_long_clip_before_loading_a_model(tmp_path):
    from conftest import make_clip

    from motion_inversion.studio import Studio

    studio = Studio(MotionLibrary(tmp_path / "lib"), max_clip_seconds=2)
    long_clip = make_clip(tmp_path / "long.mp4", seconds=5)
    with pytest.raises(MotionInversionError, match=r"long.mp4 lasts 5 s; clips of at most 2 s are accepted: trim it"):
        studio.learn(long_clip, model_name="no-such-model-would-be-loaded")
    with pytest.raises(MotionInversionError, match="no clip: upload a short video first"):
        studio.check_clip(None)
    assert not (tmp_path / "lib").exists() or not any((tmp_path / "lib").iterdir())


def test_two_writers_of_one_name_never_lose_a_motion(tmp_path, monkeypatch):
    """A forced interleaving: the second writer runs while the first is in the middle of its (slow) save."""
    first, second = MotionLibrary(tmp_path / "lib"), MotionLibrary(tmp_path / "lib")
    outcomes = {}
    original_save = Motion.save

    def slow_save(motion, path, *args, **kwargs):
        if "second" not in outcomes:  # the first writer's save: the second writer comes in now
            outcomes["second"] = None
            try:
                outcomes["second"] = second.add(small_motion("from-second"), "take").name
            except MotionInversionError as error:
                outcomes["second"] = f"refused: {error}"
            outcomes["numbered"] = second.add(small_motion("numbered"), "take", if_taken="number").name
        return original_save(motion, path, *args, **kwargs)

    monkeypatch.setattr(Motion, "save", slow_save)
    assert first.add(small_motion("from-first"), "take").name == "take"
    assert outcomes["second"].startswith("refused: a motion named 'take' already exists")
    assert outcomes["numbered"] == "take-2"
    assert first.load("take").base_model == "from-first" and first.load("take-2").base_model == "numbered"
    assert not [p for p in (tmp_path / "lib").iterdir() if p.name.startswith(".")]  # reservations released


def test_leftovers_of_killed_writes_are_cleaned_when_a_library_opens(tmp_path, frames):
    import os
    import time

    library = MotionLibrary(tmp_path / "lib")
    library.add(small_motion(), "kept", preview_frames=frames)
    folder = library.folder
    old = time.time() - 3600
    leftovers = [folder / ".kept.x1.safetensors.tmp", folder / "gone.mp4", folder / "gone.png"]
    for path in leftovers:
        path.write_bytes(b"partial")
        os.utime(path, (old, old))
    (folder / ".dead.reserve").write_text("999999999")  # a process that no longer runs
    (folder / ".young.safetensors.tmp").write_bytes(b"being written")  # a live write's: kept
    before = files(folder)
    MotionLibrary(folder)
    after = files(folder)
    assert sorted(set(before) - set(after)) == sorted([".dead.reserve", *(p.name for p in leftovers)])
    assert {"kept.safetensors", "kept.mp4", "kept.png", ".young.safetensors.tmp"} <= set(after)
    assert library.names() == ["kept"]


def test_a_read_only_library_opens_and_lists(tmp_path, frames):
    import os

    library = MotionLibrary(tmp_path / "lib")
    library.add(small_motion(), "kept", preview_frames=frames)
    os.chmod(library.folder, 0o555)
    try:
        if os.access(library.folder, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        reopened = MotionLibrary(library.folder)
        assert reopened.names() == ["kept"]
        with pytest.raises(MotionInversionError, match="is read-only: learning, importing, renaming and deleting"):
            reopened.add(small_motion(), "new")
        with pytest.raises(MotionInversionError, match="is read-only"):
            reopened.delete("kept")
    finally:
        os.chmod(library.folder, 0o755)


def test_a_library_at_its_quota_refuses_with_a_line_and_keeps_what_it_has(tmp_path):
    library = MotionLibrary(tmp_path / "lib", max_motions=2)
    library.add(small_motion(), "one")
    library.add(small_motion(), "two")
    before = files(library.folder)
    with pytest.raises(MotionInversionError, match=r"your library is full \(2 motions"):
        library.add(small_motion(), "three")
    library.delete("one")
    assert library.add(small_motion(), "three").name == "three"  # room again
    small = MotionLibrary(tmp_path / "lib", max_bytes=1)
    with pytest.raises(MotionInversionError, match="your library is full .* MB"):
        small.add(small_motion(), "four")
    assert "one.safetensors" in before and files(library.folder).keys() == {"two.safetensors", "three.safetensors"}


def test_a_library_on_read_only_storage_says_what_is_off_before_any_work(tmp_path, frames, monkeypatch):
    """As the test above, for a process that may write anywhere (root): the storage is made to answer read-only."""
    import os

    library = MotionLibrary(tmp_path / "lib")
    library.add(small_motion(), "kept", preview_frames=frames)
    before = files(library.folder)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if mode == os.W_OK else real_access(path, mode))
    reopened = MotionLibrary(library.folder)
    assert reopened.names() == ["kept"] and reopened.load("kept").base_model == "tiny-unet3d"
    for action in (lambda: reopened.add(small_motion(), "new"), lambda: reopened.delete("kept"),
                   lambda: reopened.rename("kept", "other")):  # fmt: skip
        with pytest.raises(MotionInversionError, match="is read-only: learning, importing, renaming and deleting"):
            action()
    assert files(library.folder) == before
