"""Factor spreads, the memorisation statistic, ``eval --nn``, and what each diversity figure sees on
controlled degradations of real shapes (gancli.metrics.degradations)."""
import json

import numpy as np
import pytest
import scipy.spatial.distance
import torch
from PIL import Image
from typer.testing import CliRunner

from gancli.cli.main import app
from gancli.metrics.degradations import factor_spreads as true_spreads
from gancli.metrics.degradations import degraded_set, score_degradations
from gancli.metrics.diversity import SpreadProbe, factor_spreads, memorisation, spread_ratios
from gancli.data.shapes import sample_params

runner = CliRunner()


def test_factor_spreads_are_mean_standard_deviations_of_each_group():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(50, 9)) * np.r_[1, 2, 3, 0.5, 0.5, 0.5, 4, 2, 7]
    out = factor_spreads(torch.from_numpy(f))
    sd = f.std(0, ddof=1)
    assert out == pytest.approx({"shape_colour": sd[0:3].mean(), "background": sd[3:6].mean(),
                                 "position": sd[6:8].mean(), "size": sd[8]}, rel=1e-12)
    half = spread_ratios(torch.from_numpy(f / 2), torch.from_numpy(f))
    assert half == pytest.approx({name: 0.5 for name in out}, rel=1e-12)


def brute_force_memorisation(gen, train, held):
    d_train = scipy.spatial.distance.cdist(gen, train).min(1)
    d_held = scipy.spatial.distance.cdist(gen, held).min(1)
    return {"nn_ratio": float(np.median(d_train / d_held)), "nn_train_closer": float((d_train < d_held).mean())}


def test_memorisation_matches_the_formula_and_tells_copies_from_new_draws():
    rng = np.random.default_rng(1)
    train, held, new = (rng.normal(size=(400, 6)) for _ in range(3))
    t = lambda a: torch.from_numpy(a)  # noqa: E731
    assert memorisation(t(new), t(train), t(held)) == pytest.approx(brute_force_memorisation(new, train, held), abs=1e-12)
    fresh = memorisation(t(new), t(train), t(held))  # draws of the same distribution: a coin flip
    assert 0.4 < fresh["nn_train_closer"] < 0.6 and 0.85 < fresh["nn_ratio"] < 1.15
    copies = train[:100] + 1e-3 * rng.normal(size=(100, 6))  # G that copies training images
    copied = memorisation(t(copies), t(train), t(held))
    assert copied["nn_train_closer"] == 1.0 and copied["nn_ratio"] < 0.01
    with pytest.raises(ValueError, match="as many held-out"):
        memorisation(t(new), t(train), t(held[:10]))


def test_degradations_remove_only_their_factor():
    held = sample_params(600, 0, 1)
    spreads = {name: true_spreads(degraded_set(name, held)[1]) for name in
               ("control", "one-colour", "one-background", "one-position", "one-size", "4-classes", "100-jittered")}
    control = spreads["control"]
    for name, factor in (("one-colour", "shape_colour"), ("one-background", "background"),
                         ("one-position", "position"), ("one-size", "radius")):
        assert spreads[name][factor] == pytest.approx(0.0, abs=0.01), name  # float32 rounding of a constant
        others = [f for f in ("background", "position", "radius") if f != factor]  # shape colour is redrawn for contrast
        for other in others:
            assert spreads[name][other] == pytest.approx(control[other], rel=0.25), (name, other)
    assert spreads["4-classes"]["classes"] == 4 and spreads["100-jittered"]["distinct"] == 100
    assert control["classes"] == 8 and control["distinct"] == 600


def test_each_diversity_figure_moves_away_from_the_held_out_control():
    """The shipped claims of docs/evaluation.md's table, on small sets (500 against 500, equal sizes
    as PRDC wants; benchmarks/diversity_validation.py runs 2,000 against 2,000): with shapes-factor-net,
    FID moves for every lost factor; coverage and recall drop for lost colour, background, classes
    and for 100 jittered copies; shapes-net's FID misses the colour and background losses."""
    out = score_degradations(["shapes-factor-net", "shapes-net"], n=500, ref_n=500, metrics=("fid", "prdc"),
                             names=["control", "one-colour", "one-background", "one-position", "4-classes",
                                    "100-jittered"])
    factor, cls = out["shapes-factor-net"], out["shapes-net"]
    control = factor["control"]
    assert control["coverage"] > 0.9 and control["prdc_recall"] > 0.9
    for name in ("one-colour", "one-background", "one-position", "4-classes", "100-jittered"):
        assert factor[name]["fid"] > 3 * control["fid"], name
    for name in ("one-colour", "one-background", "4-classes", "100-jittered"):
        assert factor[name]["coverage"] < control["coverage"] - 0.2, name
        assert factor[name]["prdc_recall"] < 0.75 * control["prdc_recall"], name
    for name in ("one-colour", "one-background"):
        assert cls[name]["fid"] / cls["control"]["fid"] < factor[name]["fid"] / control["fid"] / 5, name


@pytest.fixture
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCLI_CACHE_DIR", str(tmp_path / "cache"))


def test_eval_nn_writes_the_grid_and_the_memorisation_statistic(tiny_run, _cache):
    result = runner.invoke(app, ["eval", str(tiny_run), "--nn", "-n", "20", "--ref-n", "30", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert 0.0 <= record["nn_train_closer"] <= 1.0 and record["nn_ratio"] > 0
    assert record["nn_reference_n"] == 96  # the tiny run's 96 training images, and 96 of the test split
    grid = Image.open(record["nn_grid"])
    scale = 96 // 32
    # 8 rows of 1 + 5 tiles of 32 px with 2 px gaps, a 4 px gap after the first column, scaled 3x
    assert grid.size == (scale * (6 * 34 + 2 + 4), scale * (8 * 34 + 2))
    assert record["nn_grid"].startswith(str(tiny_run / "samples"))
    logged = json.loads((tiny_run / "metrics.jsonl").read_text().splitlines()[-1])
    assert logged["nn_ratio"] == pytest.approx(record["nn_ratio"])


def test_eval_nn_neighbours_are_the_nearest_training_images(tiny_run, _cache):
    """The grid's columns 2-6 are training images, nearest first in the extractor's features."""
    from gancli.config import EvalRequest
    from gancli.metrics.evaluate import evaluate, make_extract, memorisation_references
    from gancli.metrics.extractors import build_extractor

    result = evaluate(tiny_run, EvalRequest(n=12, ref_n=30, nn=True), log=False)
    grid = result.nn_grid
    assert grid.shape == (8, 6, 3, 32, 32) and grid.dtype == torch.uint8
    train, held, _ = memorisation_references({"dataset": "shapes", "split": "train", "data_size": 96, "seed": 0}, 32)
    assert train.n == held.n == 96
    extract = make_extract(build_extractor("shapes-factor-net", ["features"]), "cpu")
    train_images = train.read(torch.arange(train.n))
    f_train = extract(train_images)["features"]
    f_rows = extract(grid[:, 0])["features"]
    d = torch.cdist(f_rows.double(), f_train.double())  # (8, 96)
    # each shown neighbour is a training image, at the 1st..5th smallest distance (to float32 rounding:
    # near-ties may swap places between this float64 computation and the float32 one of --nn)
    shown = torch.tensor([[next(i for i in range(len(train_images)) if torch.equal(train_images[i], tile))
                           for tile in row] for row in grid[:, 1:]])
    torch.testing.assert_close(d.gather(1, shown), d.sort(1).values[:, :5], rtol=1e-5, atol=1e-5)


def test_spread_probe_is_one_on_the_real_grid_and_falls_with_lost_variety():
    from gancli.data.base import to_float

    held = sample_params(64, 3, 1)
    as_float = lambda name: to_float(torch.from_numpy(degraded_set(name, held)[0]))  # noqa: E731
    real = as_float("control")
    probe = SpreadProbe(real)
    assert probe(real) == pytest.approx(1.0, abs=1e-12)
    assert probe(real[:1].expand(64, -1, -1, -1)) == pytest.approx(0.0, abs=1e-6)  # one image: nothing varies
    # one background: that factor's share (a quarter of the mean) is gone, the others stay about put
    assert 0.6 < probe(as_float("one-background")) < 0.9
