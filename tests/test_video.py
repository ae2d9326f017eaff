"""Reading clips of every common kind at the model's size, and writing browser-playable mp4."""

import numpy as np
import pytest
from conftest import make_clip

from motion_inversion import MotionInversionError
from motion_inversion.video import probe_clip, read_clip, write_mp4, write_thumbnail


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".webm", ".avi", ".gif"])
def test_reads_common_containers_at_requested_size(tmp_path, suffix):
    clip = make_clip(tmp_path / f"clip{suffix}", seconds=2, rate=8)
    frames = read_clip(clip, num_frames=8, height=32, width=48).frames
    assert frames.shape == (8, 32, 48, 3) and frames.dtype == np.uint8
    assert frames.std() > 10  # real picture content, not a blank frame


def test_short_clip_returns_what_it_has(tmp_path):
    clip = make_clip(tmp_path / "short.mp4", seconds=1, rate=5)
    assert read_clip(clip, num_frames=16, height=32, width=32).num_frames == 5


def test_stride_fps_and_start(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", seconds=4, rate=8)  # 32 frames
    assert read_clip(clip, 100, 32, 32, stride=4).num_frames == 8
    assert read_clip(clip, 100, 32, 32, fps=2).num_frames == 8
    assert read_clip(clip, 100, 32, 32, start=3.0).num_frames == 8


def test_rotation_metadata_is_honoured(tmp_path):
    landscape = make_clip(tmp_path / "landscape.mp4", size="64x32", source="color=c=white")
    rotated = tmp_path / "rotated.mp4"
    import subprocess

    from motion_inversion.video import ffmpeg_exe

    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-display_rotation", "90", "-i", str(landscape), "-c", "copy", str(rotated)],
        check=True,
    )
    info = probe_clip(rotated)
    assert (info.width, info.height) == (32, 64)
    frames = read_clip(rotated, 4, 64, 64, fit="pad").frames
    # a portrait white picture padded into a square: black bars left and right, white in the middle
    assert frames[:, :, :8].max() < 30 and frames[:, :, 28:36].min() > 200


def test_fit_modes_on_portrait_clip(tmp_path):
    portrait = make_clip(tmp_path / "portrait.mp4", size="48x96")
    for fit in ("crop", "stretch", "pad"):
        assert read_clip(portrait, 4, 32, 64, fit=fit).frames.shape == (4, 32, 64, 3)
    with pytest.raises(MotionInversionError, match="fit must be one of"):
        read_clip(portrait, 4, 32, 64, fit="zoom")


def test_large_and_long_clips_are_read_without_decoding_everything(tmp_path):
    big = make_clip(tmp_path / "4k.mp4", seconds=0.5, size="3840x2160", rate=8)
    assert read_clip(big, 4, 32, 56).frames.shape == (4, 32, 56, 3)
    long = make_clip(tmp_path / "long.mp4", seconds=600, size="64x48", rate=2)
    assert probe_clip(long).duration == pytest.approx(600, abs=1)
    assert read_clip(long, 8, 32, 32, start=300).num_frames == 8


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.mp4", b"", "empty.mp4 is an empty file"),
        ("notes.mp4", b"these are my notes, not a video\n" * 20, "notes.mp4 is not a video ffmpeg can read"),
    ],
)
def test_non_videos_are_refused(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MotionInversionError, match=message):
        read_clip(path, 8, 32, 32)


def test_truncated_video_is_refused(tmp_path):
    good = make_clip(tmp_path / "good.mp4")
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[:600])
    with pytest.raises(MotionInversionError, match="truncated.mp4"):
        read_clip(truncated, 8, 32, 32)


def test_write_mp4_round_trip_and_thumbnail(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (12, 30, 46, 3), dtype=np.uint8)
    out = write_mp4(frames, tmp_path / "out" / "video.mp4", fps=8)
    info = probe_clip(out)
    assert (info.codec, info.width, info.height) == ("h264", 46, 30)
    assert read_clip(out, 100, 30, 46).num_frames == 12
    thumbnail = write_thumbnail(frames, tmp_path / "thumb.png", max_side=23)
    from PIL import Image

    assert max(Image.open(thumbnail).size) == 23
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["video.mp4"]


def test_write_mp4_to_unwritable_place_fails_cleanly(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(MotionInversionError, match="cannot write"):
        write_mp4(np.zeros((2, 16, 16, 3), np.uint8), blocker / "video.mp4")
