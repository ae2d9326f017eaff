"""The toy world: synthetic clips of coloured shapes on known trajectories, a tiny text-to-video model trained on
them (shipped in assets/toy-model), a colour tracker and an evaluation that measures whether motion transfers.

- `clips`: render clips and their ground-truth trajectories, seeded.
- `train`: `python -m motion_inversion.toy.train [--resume]` trains the toy model (VAE, then text encoder + UNet).
- `tracker`: find the object's colour, centroid and size per frame; estimate camera pans.
- `repertoire`: which motions the plain model makes by itself, against the training clips.
- `evaluate`: `python -m motion_inversion.toy.evaluate [--quick]` runs the motion-transfer benchmark.
- `showcase`: `python -m motion_inversion.toy.showcase` draws the sample clips and what the app makes of them.
"""
