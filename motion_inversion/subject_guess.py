"""A guess of where a start image's subject stands, for a creator who has not clicked it: the app marks the guess on
the fitted image (a click corrects it), the CLI takes `--subject-at auto`.

The boundary prior of saliency detection: a subject seldom fills the image's border, so the border's colours stand
for the background, and the subject is the region farthest (in Lab) from all of them. On 300 toy stills, the guess
is 0.18 px on average from the colour tracker's centre of the subject, at most 0.68 px (docs/toy-wan.md, "Session
17"); a border pixel that is itself far from the border's median (a subject touching the edge) does not count as
background. Where the background is as varied as the subject, or the subject is cut by every edge, the guess is
another region or none: the app shows it before anything is generated.
"""

import cv2
import numpy as np

SIDE = 64  # the image is looked at this small (long side, pixels): a subject's place needs no detail
MIN_CONTRAST = 20.0  # Lab units from the nearest background colour: less anywhere, and nothing stands out
STANDS_OUT = 0.5  # the subject: pixels at least this share of the largest distance from the background
BORDER_SAMPLES = 128  # background colours kept from the border


def guess_subject(frame: np.ndarray) -> tuple[float, float] | None:
    """(x, y) fractions of `frame` (uint8 (h, w, 3) RGB) where its subject most likely stands, or None when nothing
    stands out from the colours along its border."""
    height, width = frame.shape[:2]
    scale = SIDE / max(height, width)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2LAB).astype(np.float32)
    border = np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]])
    off_median = np.linalg.norm(border - np.median(border, axis=0), axis=1)
    border = border[off_median <= np.percentile(off_median, 75)]  # a subject touching an edge is not background
    border = border[:: max(1, len(border) // BORDER_SAMPLES)]
    distance = np.linalg.norm(lab[:, :, None] - border[None, None], axis=-1).min(axis=-1)
    if distance.max() < MIN_CONTRAST:
        return None
    count, labels = cv2.connectedComponents((distance >= STANDS_OUT * distance.max()).astype(np.uint8), connectivity=8)
    # the region that stands out most in all (size times contrast), its centre weighted by contrast
    weight = np.bincount(labels.ravel(), weights=distance.ravel(), minlength=count)
    ys, xs = np.nonzero(labels == 1 + np.argmax(weight[1:]))
    w = distance[ys, xs]
    return float((xs + 0.5) @ w / w.sum() / lab.shape[1]), float((ys + 0.5) @ w / w.sum() / lab.shape[0])
