"""Training the toy model: a run stopped part-way and resumed continues where it stopped, from any machine state."""

import json

import numpy as np
import pytest
import torch

from motion_inversion import load_model
from motion_inversion.toy import train

TINY_RUN = ["--clips", "16", "--vae-steps", "2", "--batch", "2", "--unet-steps", "10", "--save-every", "100"]


def run(folder, *extra):
    train.main(["--out", str(folder / "model"), "--checkpoint", str(folder / "checkpoint"), *TINY_RUN, *extra])
    return torch.load(folder / "checkpoint" / "state.pt", weights_only=True)


def test_three_steps_then_two_more_after_resuming_equal_five_steps(tmp_path):
    straight = run(tmp_path / "straight", "--stop-at", "5")
    run(tmp_path / "resumed", "--stop-at", "3")
    resumed = run(tmp_path / "resumed", "--stop-at", "5", "--resume")

    assert straight["step"] == resumed["step"] == 5
    # the same batches, timesteps, noise and caption drops were drawn: the random generator is where it would be
    assert torch.equal(straight["generator"], resumed["generator"])
    # Not bit for bit: CPU kernels round differently from one allocation to the next (two identical runs in one
    # process differ in the last bits too, from the fourth step here), so the resumed run agrees to rounding: losses
    # to 1e-4 (another batch or timestep would change them by percents), weights to 1e-3 of their norm, Adam's
    # moments to a few percent (losing them would leave only the last step's gradient: an error of ~50%).
    assert straight["losses"][:3] == resumed["losses"][:3]
    assert torch.allclose(torch.tensor(straight["losses"]), torch.tensor(resumed["losses"]), rtol=1e-4)

    def relative_error(a: dict, b: dict) -> float:
        a, b = torch.cat([v.flatten() for v in a.values()]), torch.cat([b[k].flatten() for k in a])
        return ((a - b).norm() / a.norm()).item()

    for name in ("unet", "ema_unet", "text_encoder", "ema_text_encoder"):
        assert relative_error(straight[name], resumed[name]) < 1e-3, name
    moments = [{k: v["exp_avg"] for k, v in state["optimizer"]["state"].items()} for state in (straight, resumed)]
    assert relative_error(*moments) < 0.15

    record = json.loads((tmp_path / "resumed" / "model" / "training.json").read_text())
    assert [r["steps"] for r in record["runs"]] == [[0, 3], [3, 5]]
    assert record["unet_steps"] == 5
    model = load_model(tmp_path / "resumed" / "model", device="cpu")  # the exported EMA loads as a pipeline
    assert model.spec.name == "toy"


def test_resume_starts_from_the_exported_model_when_there_is_no_checkpoint(tmp_path):
    run(tmp_path / "first", "--stop-at", "2")
    (tmp_path / "first" / "checkpoint" / "state.pt").unlink()
    exported = load_model(tmp_path / "first" / "model", device="cpu").denoiser.state_dict()
    state = run(tmp_path / "first", "--stop-at", "1", "--resume")
    assert state["step"] == 1
    record = json.loads((tmp_path / "first" / "model" / "training.json").read_text())
    assert record["runs"][0]["steps"] == [0, 2]  # the run the weights came from is kept in the record
    # one step on from the exported weights, not from scratch
    distance = max((state["unet"][k] - v.float()).abs().max().item() for k, v in exported.items())
    assert distance < 0.05
    for config in (tmp_path / "first" / "model").glob("*/config.json"):  # no local path leaks into a shipped folder
        assert "_name_or_path" not in json.loads(config.read_text()), config


def test_resume_without_anything_to_resume_says_so(tmp_path):
    with pytest.raises(SystemExit, match="no checkpoint"):
        run(tmp_path, "--resume")


def test_resuming_after_the_worlds_words_changed_keeps_the_words_both_worlds_share(tmp_path):
    from motion_inversion.tiny import tiny_tokenizer

    before = tiny_tokenizer(tmp_path / "before", ("a", "red", "green", "circle"), train.MAX_TOKENS).get_vocab()
    after_tokenizer = tiny_tokenizer(tmp_path / "after", ("a", "red", "pink", "circle"), train.MAX_TOKENS)
    after = after_tokenizer.get_vocab()
    assert len(after) != len(before) and after["red</w>"] != before["red</w>"]  # rows move, the table grows
    text_encoder = train.build_text_encoder(len(before))
    old_rows = text_encoder.get_input_embeddings().weight.detach().clone()

    train.carry_token_embeddings(text_encoder, before, after)

    rows = text_encoder.get_input_embeddings().weight
    assert rows.shape[0] == len(after)
    for word in ("red</w>", "circle</w>", "a</w>"):
        assert torch.equal(rows[after[word]], old_rows[before[word]]), word
    assert torch.allclose(rows[after["pink</w>"]], old_rows.mean(dim=0))
    tokens = after_tokenizer(["a pink circle"], return_tensors="pt").input_ids
    assert text_encoder(tokens)[0].shape[:2] == tokens.shape  # every new id has a row


def test_the_toy_wan_trains_resumes_and_loads_as_a_wan_pipeline(tmp_path):
    """The same trainer with --family wan: flow matching on the toy Wan, stopped and resumed like the toy UNet."""

    def run_wan(folder, *extra):
        return run(folder, "--family", "wan", *extra)

    straight = run_wan(tmp_path / "straight", "--stop-at", "3")
    run_wan(tmp_path / "resumed", "--stop-at", "2")
    elsewhere = ["--out", str(tmp_path / "elsewhere"), "--checkpoint", str(tmp_path / "resumed" / "checkpoint")]
    with pytest.raises(SystemExit, match="elsewhere has no vae/: resume into the folder this checkpoint's run wrote"):
        train.main([*elsewhere, *TINY_RUN, "--family", "wan", "--resume", "--stop-at", "3"])  # its VAE is in model/
    resumed = run_wan(tmp_path / "resumed", "--stop-at", "3", "--resume")
    assert straight["step"] == resumed["step"] == 3
    assert torch.equal(straight["generator"], resumed["generator"])
    assert torch.allclose(torch.tensor(straight["losses"]), torch.tensor(resumed["losses"]), rtol=1e-4)
    model = load_model(tmp_path / "resumed" / "model", device="cpu")
    assert (model.spec.name, model.family.name, model.spec.frame_step) == ("toy-wan", "wan", 2)
    assert type(model.denoiser).__name__ == "WanTransformer3DModel" and type(model.vae).__name__ == "AutoencoderKLWan"
    assert model.latent_frames(model.spec.num_frames) == 5  # 9 frames, the shipped toy Wan's 2x causal VAE


def test_a_new_vae_with_wans_4x_time_replaces_the_old_one_and_the_transformer_goes_on_from_its_weights(tmp_path):
    """--new-vae --vae-temporal 4 (docs/toy-wan.md, "Session 17"): the model in --out (2x, the default) gets a VAE
    whose latent frames each cover 4 frames, as Wan's (3 for 9 frames), and its transformer is where it was."""
    from diffusers import WanTransformer3DModel

    run(tmp_path, "--family", "wan", "--stop-at", "1")
    old = WanTransformer3DModel.from_pretrained(tmp_path / "model" / "transformer").state_dict()
    new_vae = ["--new-vae", "--vae-temporal", "4", "--vae-object-weight", "10"]
    train.main(["--out", str(tmp_path / "model"), "--checkpoint", str(tmp_path / "new"), *TINY_RUN, "--family", "wan",
                "--resume", *new_vae, "--stop-at", "1"])  # fmt: skip
    model = load_model(tmp_path / "model", device="cpu")
    assert model.latent_frames(9) == 3 and model.spec.frame_step == 4 and model.usable_frames(10) == 9
    pool = torch.load(tmp_path / "new" / "latents.pt", weights_only=True)["latents"]
    assert pool.shape == (16, 16, 3, 8, 8)
    new = model.denoiser.state_dict()
    assert all(torch.allclose(new[name].float(), old[name].float(), atol=1e-3) for name in old)  # one step at 1e-5
    # the subject-weighted error is what trains it: from the same start, the weighting changes the weights
    from motion_inversion.toy import toy_wan

    frames = toy_wan.clip_pool(4, 0)[0]

    def fitted(weight):
        torch.manual_seed(0)
        return toy_wan.train_vae(frames, 2, lambda message: None, temporal=2, object_weight=weight).state_dict()

    plain, again, weighted = fitted(0.0), fitted(0.0), fitted(10.0)
    assert all(torch.equal(plain[name], again[name]) for name in plain)
    assert not all(torch.equal(plain[name], weighted[name]) for name in plain)
    with pytest.raises(SystemExit, match="add --resume"):
        run(tmp_path / "other", "--family", "wan", "--new-vae")
    with pytest.raises(SystemExit, match="add --family wan"):
        run(tmp_path / "other", "--vae-object-weight", "10")


def test_placed_clips_start_anywhere_and_always_train_from_their_first_frame(tmp_path):
    """--placed-clips (the toy Wan's image-to-video from a subject anywhere): the clips' subjects start far from the
    middle, their first latent frame is always given (not counted in the loss), and the pool records which they are."""
    from motion_inversion.toy import clips, toy_wan, tracker

    def far_starts(pool):  # the share of clips whose first frame's subject is far from the middle (tracked)
        starts = np.array([tracker.track(clip[:1].numpy()).trajectory[0, :2] for clip in pool[0]])
        return (np.abs(starts - clips.SIZE / 2).max(axis=1) > 0.35 * clips.SIZE).mean()

    usual, placed = toy_wan.clip_pool(200, train.PLACED_SEED), train.placed_clip_pool(200)
    assert far_starts(usual) < 0.02 and far_starts(placed) > 0.1  # what the trainer renders; measured 0 and 0.19

    prediction = torch.zeros(8, 4, 3, 2, 2, requires_grad=True)
    loss = toy_wan.flow_loss(lambda **inputs: (prediction,), torch.zeros(8, 1, 4), torch.randn(8, 4, 3, 2, 2),
                             torch.Generator().manual_seed(0), torch.arange(8) < 4)  # fmt: skip
    loss.backward()
    first_frame_counted = prediction.grad[:, :, 0].abs().flatten(1).sum(dim=1) > 0
    assert not first_frame_counted[:4].any() and (prediction.grad[:4, :, 1:] != 0).all()

    run(tmp_path, "--family", "wan", "--placed-clips", "4", "--stop-at", "1")
    pool = torch.load(tmp_path / "checkpoint" / "latents.pt", weights_only=True)
    assert len(pool["latents"]) == 20 and pool["from_first_frame"].tolist() == [False] * 16 + [True] * 4
    assert json.loads((tmp_path / "model" / "training.json").read_text())["placed_clips"] == 4
    with pytest.raises(SystemExit, match="holds 20 clips, this command asks for 16"):
        run(tmp_path, "--family", "wan", "--stop-at", "2", "--resume")  # without --placed-clips: another pool


def test_sharpening_the_decoder_keeps_every_latent_and_the_models_history(tmp_path):
    """sharpen_decoder trains the toy Wan VAE's decoder alone: the encoder (so every latent the transformer was
    trained on, and every saved motion's) is unchanged to the bit, the decoder changes, the model's training.json
    keeps the runs that made it and adds this one, and a stopped refit resumes at its step."""
    import shutil
    from pathlib import Path

    from diffusers import AutoencoderKLWan

    from motion_inversion.toy import clips, sharpen_decoder, toy_wan, tracker

    model = tmp_path / "model"
    shutil.copytree(Path(__file__).parents[1] / "assets" / "toy-wan", model)
    before = AutoencoderKLWan.from_pretrained(model / "vae")
    weights_before = before.state_dict()
    runs_before = json.loads((model / "training.json").read_text())["runs"]

    def refit(*extra):
        sharpen_decoder.main(["--model", str(model), "--checkpoint", str(tmp_path / "checkpoint"), "--clips", "4",
                              "--save-every", "100", *extra])  # fmt: skip

    refit("--steps", "2")
    refit("--steps", "3", "--resume")
    after = AutoencoderKLWan.from_pretrained(model / "vae")
    changed = {name for name, weights in after.state_dict().items() if not torch.equal(weights, weights_before[name])}
    decoder = {name for name in weights_before if name.startswith(("decoder.", "post_quant_conv."))}
    assert changed <= decoder and len(changed) > len(decoder) / 2  # a few small steps round back in half precision
    assert (after.config.latents_mean, after.config.latents_std) == (before.config.latents_mean,
                                                                      before.config.latents_std)  # fmt: skip
    runs = json.loads((model / "training.json").read_text())["runs"]
    assert runs[: len(runs_before)] == runs_before
    assert [run["decoder_steps"] for run in runs[len(runs_before) :]] == [[0, 2], [2, 3]]
    with pytest.raises(SystemExit, match="no checkpoint"):
        sharpen_decoder.main(["--model", str(model), "--checkpoint", str(tmp_path / "none"), "--resume"])

    # the loss weights the subject, found where the clip draws it, and nothing far from it
    clip = clips.render(clips.ClipSpec("square", "pink", "line-right", 5), num_frames=9)
    subject = toy_wan.subject_masks(torch.from_numpy(clip.frames)[None])[0, 0].numpy()
    size, fine = clips.SIZE, clips.SUPERSAMPLE
    drawn = np.stack([clips.shape_mask("square", x / size, y / size, r / size / np.sqrt(np.pi), size)
                      .reshape(size, fine, size, fine).any(axis=(1, 3)) for x, y, r in clip.trajectory])  # fmt: skip
    assert subject[drawn].mean() > 0.95 and not subject[~tracker.grow(drawn, 2)].any()
