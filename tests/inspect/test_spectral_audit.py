"""sn-check's numbers against layers whose norms are known in closed form, and the audit of whole nets."""
import json
import math

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize
from typer.testing import CliRunner

from gancli.cli.main import app
from gancli.layers.spectral import spectral_norm
from gancli.inspect.sn_check import SnRequest, sn_check
from gancli.inspect.spectral_audit import audit_layers, operator_norm, sigma_hat
from tests.conftest import write_tiny_run

runner = CliRunner()


def test_diagonal_linear_layer():
    layer = nn.Linear(5, 5, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.diag(torch.tensor([0.5, -3.0, 2.0, 1.0, 0.1])))
    spectral_norm(layer)  # torch runs 15 power iterations on registration
    layer.train()
    for _ in range(10):
        layer(torch.randn(2, 5))
    (row,) = audit_layers(layer, "L", {"": (5,)})
    assert row.sigma_mat_raw == pytest.approx(3.0, rel=1e-6)
    assert row.sigma_hat == pytest.approx(3.0, rel=1e-4)
    assert row.sigma_mat == pytest.approx(1.0, rel=1e-4)  # W / sigma_hat
    assert row.sigma_op == row.sigma_mat and not row.drifted and row.normalized
    # the normalized weight is x / max|x| on the diagonal (PyTorch's own check)
    assert torch.diag(layer.eval().weight).tolist() == pytest.approx([0.5 / 3, -1.0, 2 / 3, 1 / 3, 0.1 / 3], rel=1e-4)


def test_one_by_one_conv_acts_like_its_matrix_at_every_size():
    conv = nn.Conv2d(6, 4, 1, bias=False)
    expected = float(torch.linalg.matrix_norm(conv.weight.detach().reshape(4, 6).double(), 2))
    for size in (1, 5, 12):
        sigma, iterations, converged = operator_norm(conv, conv.weight, (6, size, size), iters=2000, rtol=1e-10)
        assert converged and sigma == pytest.approx(expected, rel=1e-5)


def test_a_kernel_with_one_tap_has_the_norm_of_that_tap():
    conv = nn.Conv2d(3, 5, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[:, :, 0, 2] = torch.randn(5, 3)  # a shift by (1, -1) times a 5x3 matrix
    tap = float(torch.linalg.matrix_norm(conv.weight[:, :, 0, 2].detach().double(), 2))
    sigma, _, converged = operator_norm(conv, conv.weight, (3, 8, 8), iters=2000, rtol=1e-10)
    assert converged and sigma == pytest.approx(tap, rel=1e-5)


@pytest.mark.parametrize("n", [4, 9])
def test_all_ones_3x3_kernel_matches_the_closed_form(n):
    """A 3x3 kernel of ones with zero padding on n x n is (T (x) T), T tridiagonal of ones, whose
    top eigenvalue is (1 + 2 cos(pi / (n + 1)))^2: between sigma_mat = 3 and 9."""
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    sigma, _, converged = operator_norm(conv, conv.weight, (1, n, n), iters=5000, rtol=1e-12)
    assert converged and sigma == pytest.approx((1 + 2 * math.cos(math.pi / (n + 1))) ** 2, rel=1e-6)
    (row,) = audit_layers(conv, "C", {"": (1, n, n)}, iters=5000, rtol=1e-12)
    assert row.sigma_mat_raw == pytest.approx(3.0) and not row.normalized


def test_strided_transposed_conv_against_its_dense_matrix():
    conv = nn.ConvTranspose2d(2, 3, 4, stride=2, padding=1, bias=False)
    shape = (2, 3, 3)
    dense = torch.autograd.functional.jacobian(
        lambda x: nn.functional.conv_transpose2d(x, conv.weight.detach().double(), None, 2, 1), torch.zeros(1, *shape,
                                                                                                            dtype=torch.float64))
    matrix = dense.reshape(-1, math.prod(shape))
    sigma, _, converged = operator_norm(conv, conv.weight, shape, iters=5000, rtol=1e-12)
    assert converged and sigma == pytest.approx(float(torch.linalg.matrix_norm(matrix, 2)), rel=1e-6)


def test_fresh_normalized_d_is_one_per_layer_after_warm_up():
    report = sn_check(None, SnRequest(model="sngan", res=32, ch=8, n_classes=4, warmup=20, net="d", n=4))
    rows = report["nets"]["D"]["layers"]
    assert rows and all(r["normalized"] for r in rows)
    for r in rows:
        assert r["sigma_mat"] == pytest.approx(1.0, abs=0.02), r["name"]
        assert r["sigma_hat"] == pytest.approx(r["sigma_mat_raw"], rel=0.02)
    assert report["drifted"] == [] and report["not_normalized"] == []
    d = report["nets"]["D"]
    assert d["pooling_factor"] == pytest.approx(8.0)  # 32 px SNGAN D ends at 8x8, summed
    assert any("residual" in part for part in d["not_covered"])
    assert set(d["gradient_norms"]) == {"generated"} and report["real_images"] == "not used: fresh model"


def test_a_plain_feed_forward_d_respects_its_product_bound(tiny_run):
    """DCGAN's D: convs, LeakyReLU(0.2) and a linear layer, all normalized: no residual, no
    attention, so the product of operator norms bounds every gradient."""
    path = write_tiny_run(tiny_run.parent / "dc", label_kind="none", model="dcgan")
    report = sn_check(path, SnRequest(net="d", n=8))
    d = report["nets"]["D"]
    assert d["not_covered"] == [] and d["pooling_factor"] == 1.0
    assert set(d["gradient_norms"]) == {"real", "generated", "interpolated"}
    assert 0 < max(d["gradient_norms"].values()) <= d["lipschitz_bound"]


def test_drift_and_missing_sn_are_flagged_and_strict_fails(tmp_path):
    from gancli.checkpoint import load_checkpoint, save_checkpoint

    path = write_tiny_run(tmp_path / "run")
    state = load_checkpoint(path)
    d_state = state["networks"]["D"]
    key = next(k for k in d_state if k.endswith("head.psi.parametrizations.weight.0._v"))
    d_state[key] = torch.nn.functional.normalize(torch.ones_like(d_state[key]), dim=0)  # a stale estimate
    save_checkpoint(path, state)
    report = sn_check(path, SnRequest(net="d", tol=0.05, n=2))
    assert "D.head.psi" in report["drifted"]
    result = runner.invoke(app, ["sn-check", str(tmp_path / "run"), "--net", "d", "--strict", "-n", "2"])
    assert result.exit_code == 1 and "D.head.psi" in result.stderr and "--tol" in result.stderr
    result = runner.invoke(app, ["sn-check", str(tmp_path / "run"), "--net", "d", "-n", "2", "--json"])
    assert result.exit_code == 0 and "D.head.psi" in json.loads(result.stdout)["drifted"]


def test_a_d_whose_last_layer_lacks_sn_is_visible():
    from gancli.config import ModelConfig
    from gancli.models import build_models, resolve_model

    cfg = resolve_model(ModelConfig(name="sagan", res=32, ch=8))
    _, D = build_models(cfg)
    parametrize.remove_parametrizations(D.head.psi, "weight")
    rows = audit_layers(D, "D", {})
    last = next(r for r in rows if r.name == "D.head.psi")
    assert not last.normalized and not last.exempt and last.sigma_hat is None
    assert sigma_hat(D.head.psi) is None
    result = runner.invoke(app, ["sn-check", "--model", "dcgan", "--net", "g", "-n", "2"])
    assert result.exit_code == 0 and "not normalized" in result.stdout  # DCGAN's G has no SN at all


def test_bad_input(tiny_run):
    for args, message in ((["--net", "x"], "--net is g, d or both"), (["--iters", "1"], "at least 2"),
                          (["--tol", "0"], "--tol must be positive"), (["--model", "sagn"], "unknown model 'sagn'")):
        result = runner.invoke(app, ["sn-check", *args])
        assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.output
    result = runner.invoke(app, ["sn-check", str(tiny_run), "--model", "sagan"])
    assert result.exit_code == 1 and "not both" in result.stderr
    result = runner.invoke(app, ["sn-check", str(tiny_run), "--warmup", "5"])
    assert result.exit_code == 1 and "--warmup is for a fresh --model" in result.stderr
