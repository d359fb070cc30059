"""`gancli sample` and `gancli info` through the CLI: outputs, the "using" line, bad input."""
import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from gancli.cli.main import app
from gancli.viz.grid import tile, upscale
from tests.conftest import write_tiny_run
from tests.pictures import assert_rows_named, ink_width, read_rgb, split, width_of

runner = CliRunner()


def test_sample_a_run_directory(tiny_run, tmp_path):
    out = tmp_path / "grid.png"
    result = runner.invoke(app, ["sample", str(tiny_run), "-n", "16", "--class", "all", "--seed", "3",
                                 "--out", str(out), "--npz", str(tmp_path / "s.npz")])
    assert result.exit_code == 0, result.output
    assert f"using {tiny_run}/checkpoints/last.pt (run directory; step 7, EMA weights)" in result.stderr
    assert "16 images, 32x32, seed 3" in result.stdout
    images = np.load(tmp_path / "s.npz")["images"]
    assert np.load(tmp_path / "s.npz")["labels"].tolist() == [k for k in range(8) for _ in range(2)]
    # 8 classes x 2 columns, 32 px tiles upscaled twice, each row named in the left margin
    grid, margin, top = split(read_rgb(out), 8 * 68 + 4, 2 * 68 + 4)
    np.testing.assert_array_equal(grid, upscale(tile(images, 2), 2))
    assert_rows_named(margin, ["circle", "square", "triangle", "ring", "plus", "circle-pair", "triangle-pair",
                               "stripes"], pitch=68, pad=4)
    assert top.size == 0  # nothing holds for the whole grid: no title line
    raw = tmp_path / "raw.png"
    assert runner.invoke(app, ["sample", str(tiny_run), "-n", "16", "--class", "all", "--seed", "3", "--out", str(raw),
                               "--no-labels", "--scale", "1"]).exit_code == 0
    np.testing.assert_array_equal(read_rgb(raw), tile(images, 2))  # the bare tiles, as 0.2 wrote them


def test_same_seed_gives_identical_files_and_no_seed_prints_one(tiny_run, tmp_path):
    for name in ("a", "b"):
        assert runner.invoke(app, ["sample", str(tiny_run), "-n", "4", "--seed", "9", "--truncation", "0.5",
                                   "--out", str(tmp_path / f"{name}.png")]).exit_code == 0
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    result = runner.invoke(app, ["sample", str(tiny_run), "-n", "2", "--out", str(tmp_path / "c.png")])
    seed = int(result.stdout.rsplit("seed ", 1)[1])
    again = runner.invoke(app, ["sample", str(tiny_run), "-n", "2", "--seed", str(seed), "--out", str(tmp_path / "d.png")])
    assert again.exit_code == 0
    assert (tmp_path / "c.png").read_bytes() == (tmp_path / "d.png").read_bytes()


def test_newest_run_under_runs_by_default(tmp_path, monkeypatch):
    write_tiny_run(tmp_path / "runs" / "only", step=12)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["sample", "-n", "1", "--no-ema"])
    assert result.exit_code == 0, result.output
    assert "using runs/only/checkpoints/last.pt (newest run under runs; step 12, raw weights)" in result.stderr
    seed = int(result.stdout.rsplit("seed ", 1)[1])  # drawn at random and printed
    assert result.stdout.startswith(f"wrote runs/only/samples/sample-seed{seed}-n1-no-ema.png: 1 images")
    assert (tmp_path / "runs" / "only" / "samples" / f"sample-seed{seed}-n1-no-ema.png").exists()
    assert not (tmp_path / "samples.png").exists()


def test_npz_alone_writes_no_grid(tiny_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["sample", str(tiny_run), "-n", "3", "--npz", "fake.npz"])
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "fake.npz")["images"].shape == (3, 32, 32, 3)
    assert not (tmp_path / "samples.png").exists() and not (tiny_run / "samples").exists()


def test_a_huge_grid_is_refused_but_npz_and_individual_are_not(tiny_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["sample", str(tiny_run), "-n", "1000000"])  # the default grid in RUN/samples/
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "error: a grid of 1000000 images (34002x34002 px) is too large to be a picture (at most 4096 images, "
        "16384 px a side); write them with --npz or --individual instead of a grid, or lower -n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"] and not (tiny_run / "samples").exists()
    monkeypatch.setattr("gancli.sampling.files.MAX_GRID_IMAGES", 4)  # 6 images: too many for a grid now
    result = runner.invoke(app, ["sample", str(tiny_run), "-n", "6", "--npz", "a.npz", "--out", "grid.png"])
    assert result.exit_code == 1 and "a grid of 6 images (104x70 px) is too large" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    result = runner.invoke(app, ["sample", str(tiny_run), "-n", "6", "--npz", "a.npz", "--individual", "each",
                                 "--batch-size", "4"])
    assert result.exit_code == 0, result.output
    assert "wrote a.npz, each/ (6 PNGs): 6 images, 32x32" in result.stdout
    assert np.load(tmp_path / "a.npz")["images"].shape == (6, 32, 32, 3) and len(list((tmp_path / "each").iterdir())) == 6
    assert not (tmp_path / "samples.png").exists() and not (tiny_run / "samples").exists()


def test_truncation_sweep_and_interpolation(tiny_run, tmp_path):
    result = runner.invoke(app, ["sample", str(tiny_run), "-n", "8", "--class", "ring", "--truncation", "2,1,0.5,0.25",
                                 "--seed", "0", "--out", str(tmp_path / "sweep.png")])
    assert result.exit_code == 0, result.output
    grid, margin, top = split(read_rgb(tmp_path / "sweep.png"), 4 * 68 + 4, 8 * 68 + 4)
    assert_rows_named(margin, ["t = 2", "t = 1", "t = 0.5", "t = 0.25"], pitch=68, pad=4)
    assert ink_width(top) == pytest.approx(width_of("class ring"), abs=1)  # the one class, on top
    result = runner.invoke(app, ["sample", str(tiny_run), "-n", "2", "--interp", "6", "--class", "ring,plus",
                                 "--out", str(tmp_path / "walk.png")])
    assert result.exit_code == 0, result.output
    assert "walk.png" in result.stdout and "walk.gif" in result.stdout
    grid, margin, top = split(read_rgb(tmp_path / "walk.png"), 2 * 68 + 4, 6 * 68 + 4)
    assert_rows_named(margin, ["ring -> plus", "ring -> plus"], pitch=68, pad=4)
    assert ink_width(top) == pytest.approx(width_of("6-step walks (slerp), one per row"), abs=1)
    gif = Image.open(tmp_path / "walk.gif")
    assert gif.n_frames == 10  # 6 there, 4 back
    gif.seek(5)
    assert ink_width(split(np.asarray(gif.convert("RGB")), 68 + 4, 2 * 68 + 4)[2]) == pytest.approx(
        width_of("step 6 of 6"), abs=1)


@pytest.mark.parametrize("args, message", [
    (["--scale", "0"], "--scale must be a positive whole number, got 0"),
    (["-n", "64", "--scale", "100"], "--scale 100 makes the grid 27400x27400 px, more than a picture may be"),
])
def test_bad_scales_are_refused_before_anything_is_drawn(tiny_run, tmp_path, args, message):
    result = runner.invoke(app, ["sample", str(tiny_run), *args, "--out", str(tmp_path / "g.png")])
    assert result.exit_code == 1 and message in result.stderr and not (tmp_path / "g.png").exists()


def test_the_automatic_scale_steps_down_to_fit_the_size_limit(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setattr("gancli.sampling.files.MAX_GRID_SIDE", 300)  # 4 x 4 tiles: 138 px raw, 276 at x2
    assert runner.invoke(app, ["sample", str(tiny_run), "-n", "16", "--out", str(tmp_path / "a.png")]).exit_code == 0
    monkeypatch.setattr("gancli.sampling.files.MAX_GRID_SIDE", 200)  # x2 no longer fits: x1
    assert runner.invoke(app, ["sample", str(tiny_run), "-n", "16", "--out", str(tmp_path / "b.png")]).exit_code == 0
    assert read_rgb(tmp_path / "a.png").shape == (4 * 68 + 4, 4 * 68 + 4, 3)
    assert read_rgb(tmp_path / "b.png").shape == (4 * 34 + 2, 4 * 34 + 2, 3)


def _foreign(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"conv.weight": torch.zeros(2, 2)}, path)
    return path


def _truncated(tmp_path, tiny_run):
    data = (tiny_run / "checkpoints" / "last.pt").read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: len(data) // 2])
    return path


class SomeonesModel:  # a whole pickled object: loading it would run this module's code
    pass


def _pickled(tmp_path):
    path = tmp_path / "code.pt"
    torch.save({"net": SomeonesModel()}, path)
    return path


@pytest.mark.parametrize("case,message", [
    ("missing", "no such checkpoint file, run directory or run name"),
    ("truncated", "is not a readable checkpoint (truncated or corrupt"),
    ("foreign", "holds a plain state_dict, not a gancli checkpoint; gancli cannot use it"),
    ("n0", "-n must be positive, got 0"),
    ("t0", "--truncation must be positive, got 0"),
    ("tneg", "--truncation must be positive, got -1"),
    ("tbad", "--truncation takes a number or a comma list"),
    ("outdir", "cannot write"),
    ("outfile", "cannot write"),
    ("class", "class 12 is out of range"),
    ("superscript", "unknown class '²'"),
    ("seed", "--seed must be between 0 and 2^63 - 1"),
    ("tiny_t", "--truncation 1e-06 is too small"),
    ("device", "unknown device 'tpu'"),
    ("gif_out", "the grid is a PNG; give a .png path"),
    ("nrow", "--nrow applies to plain grids"),
    ("json", "is not a PyTorch checkpoint file"),
    ("interp_attrs", "--attrs needs a model conditioned on attributes; this one is class-conditional"),
    ("individual", "is not empty"),
])
def test_bad_input_is_one_line_and_writes_nothing(case, message, tiny_run, tmp_path):
    out = tmp_path / "out" / "grid.png"
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    target, extra = str(tiny_run), []
    if case == "missing":
        target = str(tmp_path / "nope.pt")
    elif case == "truncated":
        target = str(_truncated(tmp_path, tiny_run))
    elif case == "foreign":
        target = str(_foreign(tmp_path))
    elif case == "n0":
        extra = ["-n", "0"]
    elif case in ("t0", "tneg", "tbad"):
        extra = ["--truncation", {"t0": "0", "tneg": "-1", "tbad": "half"}[case]]
    elif case == "outdir":
        out = tmp_path
    elif case == "outfile":
        out = blocker / "grid.png"
    elif case == "class":
        extra = ["--class", "12"]
    elif case == "superscript":
        extra = ["--class", "²"]
    elif case == "seed":
        extra = ["--seed", str(2**64 - 1)]
    elif case == "tiny_t":
        extra = ["--truncation", "1e-6"]
    elif case == "device":
        extra = ["--device", "tpu"]
    elif case == "gif_out":
        out, extra = tmp_path / "walk.gif", ["--interp", "3"]
    elif case == "nrow":
        extra = ["--class", "all", "--nrow", "4"]
    elif case == "json":
        target = str(tiny_run / "config.json")
    elif case == "interp_attrs":
        extra = ["--interp", "3", "--attrs", "Male"]
    elif case == "individual":
        (tmp_path / "each").mkdir()
        (tmp_path / "each" / "0000.png").write_bytes(b"old")
        extra = ["--individual", str(tmp_path / "each")]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = runner.invoke(app, ["sample", target, "--out", str(out), "--npz", str(tmp_path / "s.npz"), *extra])
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stderr.count("\n") <= 2 and "Traceback" not in result.output  # the "using" line + the error
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_code_pickles_are_refused(tmp_path):
    result = runner.invoke(app, ["sample", str(_pickled(tmp_path))])
    assert result.exit_code == 1
    assert "a pickle that needs code to load, not a gancli checkpoint" in result.stderr


def test_info_table_and_json(tiny_run):
    result = runner.invoke(app, ["info", str(tiny_run), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["model"] == "sagan" and info["step"] == 7 and info["conditioning"] == "class"
    assert info["classes"][3] == "ring" and info["ema"] is True
    from gancli.config import ModelConfig
    from gancli.models import build_models, count_parameters, resolve_model

    G, D = build_models(resolve_model(ModelConfig(name="sagan", res=32, ch=4, n_classes=8)))
    assert (info["params_G"], info["params_D"]) == (count_parameters(G), count_parameters(D))
    assert info["last_metrics"] == {"step": 6, "d_loss": pytest.approx(0.9), "g_loss": 0.5}  # at or before step 7
    table = runner.invoke(app, ["info", str(tiny_run)])
    assert table.exit_code == 0
    for text in ("sagan", "circle, square", "params_G", "last d_loss"):
        assert text in table.stdout


def test_info_on_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 1 and "no runs with checkpoints under runs/" in result.stderr
