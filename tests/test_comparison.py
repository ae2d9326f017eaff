"""Side-by-side comparisons (`motion-inversion compare`): an mp4 three panels wide with the longest input's frame
count, and a GIF that opens."""

from PIL import Image
from test_cli import run_cli
from test_motion_match import render

from motion_inversion.comparison import LABEL_HEIGHT, PANEL_HEIGHT
from motion_inversion.video import probe_clip, read_whole_clip, write_mp4


def test_compare_writes_an_mp4_three_panels_wide_and_a_gif(tmp_path):
    reference = write_mp4(render("line-up-right", "square", "pink", size=64, num_frames=16), tmp_path / "ref.mp4")
    with_motion = write_mp4(render("line-up-right"), tmp_path / "with.mp4", fps=8)
    without = write_mp4(render("line-left"), tmp_path / "without.mp4", fps=8)
    code, out, err = run_cli("compare", reference, with_motion, without, "--out", tmp_path / "share" / "cmp.mp4")
    assert code == 0, err
    mp4, gif = tmp_path / "share" / "cmp.mp4", tmp_path / "share" / "cmp.gif"
    assert out.strip() == f"wrote {mp4} and {gif}"
    info = probe_clip(mp4)
    assert info.codec == "h264" and info.height == PANEL_HEIGHT + LABEL_HEIGHT
    assert info.width >= 3 * PANEL_HEIGHT  # three square panels side by side
    assert read_whole_clip(mp4, max_side=4000).num_frames == 16  # the reference's 16, not the videos' 8
    with Image.open(gif) as image:
        assert image.size == (info.width, info.height) and image.n_frames == 16
    assert sorted(p.name for p in mp4.parent.iterdir()) == ["cmp.gif", "cmp.mp4"]  # no temporary files left


def test_compare_refuses_a_non_video_in_one_line_and_writes_nothing(tmp_path):
    reference = write_mp4(render("line-right"), tmp_path / "ref.mp4")
    (tmp_path / "notes.mp4").write_text("not a video\n" * 20)
    code, out, err = run_cli("compare", reference, tmp_path / "notes.mp4", "--out", tmp_path / "cmp.mp4")
    assert code == 2 and "notes.mp4 is not a video" in err and "Traceback" not in err
    assert not (tmp_path / "cmp.mp4").exists() and not (tmp_path / "cmp.gif").exists()
