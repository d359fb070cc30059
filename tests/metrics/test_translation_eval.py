"""gancli eval on translation runs: the pixel errors by hand, and the whole evaluation with
translators whose answers are known (identity; the exact ground truth)."""
from pathlib import Path

import pytest
import torch

from gancli.config import EvalRequest, ModelConfig
from gancli.errors import GancliError
from gancli.methods import METHODS, LoadedCheckpoint
from gancli.metrics.translation import evaluate_translators, pixel_errors
from gancli.models import resolve_model
from gancli.sampling.translation import LoadedTranslators, run_pair_data
from gancli.viz.grid import quantize


def test_pixel_errors_by_hand():
    x = torch.full((2, 3, 2, 2), -1.0)  # black: 0 in [0, 1]
    y = x.clone()
    y[0] = 1.0  # image 0: white against black (mse 1, PSNR 0 dB); image 1: identical (100 dB by convention)
    l1, psnr = pixel_errors(x, y)
    assert l1 == pytest.approx(0.5) and psnr == pytest.approx(50.0)
    half = torch.zeros(1, 3, 4, 4)  # mid grey: 128/255 after quantising, against black
    l1, psnr = pixel_errors(half, torch.full((1, 3, 4, 4), -1.0))
    assert l1 == pytest.approx(128 / 255) and psnr == pytest.approx(-10 * torch.log10(torch.tensor((128 / 255) ** 2)).item(), rel=1e-5)


class _Lookup(torch.nn.Module):
    """A translator that knows the answer: returns the paired image for every input it was given."""

    def __init__(self, inputs, outputs):
        super().__init__()
        self.keys = quantize(inputs).flatten(1)
        self.outputs = outputs
        self.anchor = torch.nn.Parameter(torch.zeros(()))  # gives the module a device

    def forward(self, x):
        hits = (quantize(x).flatten(1)[:, None] == self.keys[None]).all(-1).float().argmax(1)
        return self.outputs[hits]


def _translators(nets, size=48):
    cfg = resolve_model(ModelConfig(name="cyclegan", res=32, ch=4))
    state = {"step": 5, "train_config": {"dataset": "shapes-pair", "seed": 0, "data_size": size}}
    ckpt = LoadedCheckpoint(Path("fake.pt"), "test", state, METHODS.get("cyclegan"), cfg)
    return LoadedTranslators(nets, False, ckpt)


def _identity():
    class Identity(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.anchor = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x):
            return x
    return Identity()


def test_identity_translators_keep_every_class_and_score_their_pixel_distance():
    tr = _translators({"G_AB": _identity(), "G_BA": _identity()})
    result = evaluate_translators(tr, EvalRequest(n=48))
    m = result.metrics
    a, b, classes = run_pair_data(tr.checkpoint, "test").ground_truth("test", 48)
    expected_l1, expected_psnr = pixel_errors(a, b)
    assert m["l1_a2b"] == pytest.approx(expected_l1) and m["psnr_a2b"] == pytest.approx(expected_psnr)
    assert m["l1_b2a"] == pytest.approx(expected_l1)
    # the classifier reads both styles: an untranslated image keeps its class as often as it is recognised
    assert m["class_kept_a2b"] == m["class_real_a"] == 1.0 and m["class_kept_b2a"] == m["class_real_b"] == 1.0
    assert m["collapse_a2b"] == pytest.approx(1.0) and m["collapse_b2a"] == pytest.approx(1.0)
    assert m["fid_a2b"] > 5 * max(m["fid_b2a"], 1e-3) or m["fid_a2b"] > 1  # fills are far from line drawings
    assert result.feature_extractor == "shapes-pair-net" and result.n == 48 and m["truth_n"] == 48
    record = result.record()
    assert record["event"] == "eval" and record["step"] == 5


def test_a_translator_that_knows_the_answer_scores_perfectly():
    a, b, _ = run_pair_data(_translators({}).checkpoint, "test").ground_truth("test", 48)
    tr = _translators({"G_AB": _Lookup(a, b), "G_BA": _Lookup(b, a)})
    m = evaluate_translators(tr, EvalRequest(n=48)).metrics
    assert m["l1_a2b"] == m["l1_b2a"] == 0.0 and m["psnr_a2b"] == m["psnr_b2a"] == 100.0
    assert m["class_kept_a2b"] == m["class_kept_b2a"] == 1.0
    assert m["fid_a2b"] < 1.0  # the true B images of the test scenes against the test split's own B


def test_gan_only_options_are_refused():
    tr = _translators({"G_AB": _identity(), "G_BA": _identity()})
    with pytest.raises(GancliError, match="--truncation does not apply to a translation run"):
        evaluate_translators(tr, EvalRequest(n=8, truncation=0.5))
    with pytest.raises(GancliError, match="--is/--kid/--prc does not apply"):
        evaluate_translators(tr, EvalRequest(n=8, metrics=["kid"]))
