"""Shareable side-by-side comparisons: the reference clip, the video made with its motion and (optionally) the one
made without, in one mp4 and one GIF, each panel labelled with its motion match against the reference.

Built with moviepy: panels are scaled to one height (`PANEL_HEIGHT`, so a 32 px toy clip is big enough to see),
stretched in time to the longest panel's duration (a generated video spans the same motion as the frames it was
learned from, whatever the frame counts), placed side by side under their labels, and written at the frame rate of
the panel with the most frames -- so the comparison has that panel's frame count.
"""

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import MotionInversionError
from .motion_match import match_files

PANEL_HEIGHT = 256  # pixels, every panel
LABEL_HEIGHT = 30  # pixels, the band above each panel that holds its label
BACKGROUND = (24, 24, 27)


@dataclass
class Panel:
    label: str
    path: Path


def comparison_panels(reference, with_motion, without_motion=None) -> list[Panel]:
    """The panels of a comparison with their labels, each generated video scored against the reference."""
    panels = [Panel("reference", Path(reference))]
    for label, path in (("with the motion", with_motion), ("without", without_motion)):
        if path is not None:
            panels.append(Panel(f"{label} · match {match_files(reference, path).score:.2f}", Path(path)))
    return panels


def _panel_clip(panel: Panel, duration: float):
    from moviepy import ColorClip, CompositeVideoClip, TextClip, VideoFileClip, vfx

    video = VideoFileClip(str(panel.path), audio=False).resized(height=PANEL_HEIGHT)
    video = video.with_effects([vfx.MultiplySpeed(final_duration=duration)])
    width = max(video.w, 2 * (len(panel.label) * 4 + 8))  # room for the label under a narrow clip
    width += width % 2  # even sizes for yuv420p
    label = TextClip(text=panel.label, font_size=16, color="white", margin=(4, 6), duration=duration)
    return CompositeVideoClip(
        [ColorClip((width, PANEL_HEIGHT + LABEL_HEIGHT), BACKGROUND, duration=duration),
         label.with_position(("center", (LABEL_HEIGHT - label.h) // 2)),
         video.with_position(("center", LABEL_HEIGHT))],
        size=(width, PANEL_HEIGHT + LABEL_HEIGHT),
    ).with_duration(duration)  # fmt: skip


def write_comparison(panels: list[Panel], out: str | os.PathLike) -> tuple[Path, Path]:
    """Write `out` (mp4) and the same comparison as a GIF beside it; returns both paths. Written in a temporary
    folder beside `out` and renamed into place, so a failure leaves no partial file."""
    from moviepy import VideoFileClip, clips_array

    out = Path(out).with_suffix(".mp4")
    gif = out.with_suffix(".gif")
    sources = []
    try:
        for panel in panels:
            sources.append(VideoFileClip(str(panel.path), audio=False))
    except (OSError, KeyError, IndexError) as error:
        name = panels[len(sources)].path.name
        raise MotionInversionError(f"{name} is not a video that can be read: {error}") from error
    longest = max(sources, key=lambda clip: clip.n_frames)
    fps, duration = longest.fps, longest.n_frames / longest.fps
    for source in sources:
        source.close()
    sheet = clips_array([[_panel_clip(panel, duration) for panel in panels]], bg_color=BACKGROUND)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".comparison.", dir=out.parent))
    try:
        browser_friendly = ["-pix_fmt", "yuv420p", "-movflags", "+faststart"]
        sheet.write_videofile(str(work / out.name), fps=fps, codec="libx264", audio=False, preset="medium",
                              ffmpeg_params=browser_friendly, logger=None)  # fmt: skip
        sheet.write_gif(str(work / gif.name), fps=fps, logger=None)
        os.replace(work / out.name, out)
        os.replace(work / gif.name, gif)
    except OSError as error:
        raise MotionInversionError(f"cannot write {out}: {error.strerror or error}") from error
    finally:
        sheet.close()
        shutil.rmtree(work, ignore_errors=True)
    return out, gif
