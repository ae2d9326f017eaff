"""The toy world: synthetic clips of coloured shapes on known trajectories, a tiny text-to-video model trained on
them (shipped in assets/toy-model), a colour tracker and an evaluation that measures whether motion transfers.

- `clips`: render clips and their ground-truth trajectories, seeded.
- `train`: `python -m motion_inversion.toy.train` trains the toy model (VAE, then text encoder + UNet).
- `tracker`: find the object's colour, centroid and size per frame; estimate camera pans.
- `evaluate`: `python -m motion_inversion.toy.evaluate` runs the motion-transfer benchmark.
"""
