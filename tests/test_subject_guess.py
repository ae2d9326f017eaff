"""The guess of where a start image's subject stands (subject_guess.py), for a creator who has not clicked it."""

import numpy as np

from motion_inversion.subject_guess import guess_subject
from motion_inversion.toy import clips, tracker


def test_the_guess_finds_a_toy_subject_anywhere_even_touching_the_edge():
    """Toy stills of every shape and colour, anywhere they are whole (some touching an edge), on their grating
    backgrounds: the guess is within a pixel of the colour tracker's centre (measured: 0.18 px mean, 0.68 px at
    most on 300 stills)."""
    rng = np.random.default_rng(5)
    misses = []
    for _ in range(60):
        shape, colour = str(rng.choice(clips.SHAPES)), str(rng.choice(list(clips.COLOURS)))
        radius = rng.uniform(0.08, 0.2)
        image = clips.still(shape, colour, np.r_[rng.uniform(radius, 1 - radius, 2), radius], int(rng.integers(2**31)))
        centre = tracker.track(image[None], colour).trajectory[0, :2] / clips.SIZE
        misses.append(np.linalg.norm((np.array(guess_subject(image)) - centre) * clips.SIZE))
    assert max(misses) < 1.0, max(misses)


def test_the_guess_is_in_fractions_of_a_photo_and_none_where_nothing_stands_out():
    photo = np.full((300, 500, 3), (70, 120, 60), dtype=np.uint8)  # larger than it is looked at: scaled down
    photo += np.random.default_rng(0).integers(0, 12, photo.shape, dtype=np.uint8)  # a grainy lawn
    photo[60:140, 350:430] = (240, 240, 250)  # a white block, right of the middle and high
    x, y = guess_subject(photo)
    assert abs(x - 390 / 500) < 0.02 and abs(y - 100 / 300) < 0.02
    assert guess_subject(np.full((30, 120, 3), 90, dtype=np.uint8)) is None
