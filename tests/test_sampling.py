"""Which frames of an upload are learned: the creator's selection, sampled into the model's frame count."""

import numpy as np
import pytest
from conftest import make_clip

from motion_inversion.errors import MotionInversionError
from motion_inversion.inversion import load_reference_clip
from motion_inversion.sampling import plan_sampling
from motion_inversion.video import ClipInfo, read_clip

PHONE_CLIP = ClipInfo(width=1920, height=1080, fps=24.0, duration=2.0, codec="h264")  # 48 frames


def test_a_short_clip_is_covered_whole_at_an_even_stride():
    plan = plan_sampling(PHONE_CLIP, num_frames=8, model_fps=8)  # the toy model: 8 frames, 1 s
    assert (plan.mode, plan.fps, plan.start, plan.end) == ("whole", 4.0, 0.0, 2.0)
    assert plan.describe() == "learning 8 frames, 0.0-2.0 s of 2.0 s, 4 fps, centre crop"


def test_a_selection_is_honoured_and_never_sampled_faster_than_the_clip_has_frames():
    plan = plan_sampling(PHONE_CLIP, 8, 8, start=1.0, end=1.5, fit="pad")
    assert plan.describe() == "learning 8 frames, 1.0-1.5 s of 2.0 s, 16 fps, padded"
    slow_clip = ClipInfo(64, 48, fps=8.0, duration=2.0, codec="h264")
    assert plan_sampling(slow_clip, 8, 8, end=0.5).fps == 8.0  # 4 real frames, not 8 with repeats


def test_a_long_clip_is_sampled_at_the_model_rate_with_advice_to_trim():
    long_clip = ClipInfo(1920, 1080, fps=30.0, duration=60.0, codec="h264")
    plan = plan_sampling(long_clip, 24, 8)  # ZeroScope: 24 frames, 3 s; 60 s is far more than 4x that
    assert (plan.mode, plan.fps, plan.end) == ("model-fps", 8.0, 3.0) and "trim the clip" in plan.describe()
    assert plan_sampling(long_clip, 24, 8, mode="whole").fps == pytest.approx(0.4)
    assert plan_sampling(long_clip, 24, 8, mode="every-frame").fps == 30.0


@pytest.mark.parametrize(
    "options, message",
    [(dict(start=3.0), "the selection 3.0-2.0 s is empty"), (dict(mode="fast"), "sampling must be one of"),
     (dict(fit="zoom"), "fit must be one of")],
)  # fmt: skip
def test_bad_settings_are_refused_by_name(options, message):
    with pytest.raises(MotionInversionError, match=message):
        plan_sampling(PHONE_CLIP, 8, 8, **options)


def test_the_learned_frames_span_the_whole_clip(tmp_path):
    """A 2 s, 24 fps clip for an 8-frame model: the last learned frame is the clip's frame at 1.75 s, not 0.29 s
    as taking the first 8 frames would give."""
    path = make_clip(tmp_path / "ball.mp4", seconds=2, size="64x64", rate=24)
    clip = load_reference_clip(path, 8, 32, 32, model_fps=8)
    assert clip.num_frames == 8 and clip.description.startswith("learning 8 frames, 0.0-2.0 s of 2.0 s, 4 fps")

    def distance(start: float) -> float:
        frame = read_clip(path, 1, 32, 32, start=start).frames[0]
        return float(np.abs(clip.frames[-1].astype(int) - frame.astype(int)).mean())

    assert distance(1.75) < 3 and distance(7 / 24) > 10  # (ffmpeg picks a frame within 1/12 s of 1.75)


def test_an_object_crossing_a_phone_clip_crosses_the_frames_the_toy_model_learns(tmp_path):
    """48 frames at 24 fps of a red disc crossing the frame, learned for the toy model with default settings: the
    disc must cross at least half of the learned frames' width (the first 8 frames alone would show a 1/6 of it)."""
    from motion_inversion.models import REGISTRY
    from motion_inversion.toy import tracker
    from motion_inversion.video import write_mp4

    size, frames = 96, []
    ys, xs = np.mgrid[:size, :size]
    for index in range(48):
        frame = np.full((size, size, 3), 128, np.uint8)
        centre_x = 8 + index * (size - 16) / 47
        frame[(xs - centre_x) ** 2 + (ys - size / 2) ** 2 <= 7**2] = (220, 40, 40)
        frames.append(frame)
    path = write_mp4(np.stack(frames), tmp_path / "crossing.mp4", fps=24)
    toy = REGISTRY["toy"]
    clip = load_reference_clip(path, toy.num_frames, toy.height, toy.width, toy.fps)
    assert clip.description == "learning 8 frames, 0.0-2.0 s of 2.0 s, 4 fps, centre crop"
    xs_learned = tracker.track(clip.frames, "red").trajectory[:, 0]
    assert not np.isnan(xs_learned).any()
    assert xs_learned.max() - xs_learned.min() >= toy.width / 2, xs_learned
