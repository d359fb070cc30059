import pytest
import torch
from torch import nn

from gancli.config import ModelConfig
from gancli.layers import apply_spectral_norm, is_spectral_normalized, sn_layers, spectral_norm
from gancli.layers.spectral import SN_TYPES, raw_weight
from gancli.models import MODELS, build_network


def _warm_up(net: nn.Module, x: torch.Tensor, y=None, steps: int = 300) -> None:
    net.train()
    with torch.no_grad():
        for _ in range(steps):  # one power iteration per training forward
            net(x, y)


def _sigma(module: nn.Module) -> float:
    w = module.weight.detach()
    return torch.linalg.matrix_norm(w.flatten(1), ord=2).item()


def test_diagonal_weight_is_divided_by_its_largest_entry():
    lin = nn.Linear(3, 3, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.diag(torch.tensor([3.0, -5.0, 2.0])))
    spectral_norm(lin)
    lin.train()
    for _ in range(20):
        lin(torch.randn(1, 3))
    expected = torch.diag(torch.tensor([3.0, -5.0, 2.0]))
    torch.testing.assert_close(lin.weight, expected / expected.abs().max(), atol=1e-6, rtol=0)


@pytest.mark.parametrize("target", [0.5, 1.0, 2.5])
def test_target_norm_scales_sigma_to_k(target):
    conv = nn.Conv2d(4, 6, 3)
    spectral_norm(conv, target=target)
    conv.train()
    for _ in range(200):
        conv(torch.randn(1, 4, 5, 5))
    assert _sigma(conv) == pytest.approx(target, abs=1e-3)


@pytest.mark.parametrize("name", [n for n in MODELS.names() if not MODELS.get(n).autoencoder_d
                                  and not MODELS.get(n).translator and 32 in MODELS.get(n).resolutions])
def test_every_d_layer_is_normalized_to_sigma_one(name):
    cfg = ModelConfig(name=name, res=32, ch=8, n_classes=4)
    d = build_network(cfg, "D")
    candidates = [m for m in d.modules() if isinstance(m, SN_TYPES)]
    normalized = [m for _, m in sn_layers(d)]
    assert len(normalized) == len(candidates) >= 4  # every conv / linear / embedding, counted
    _warm_up(d, torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3]))
    for module in normalized:
        assert _sigma(module) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("name,expect_sn", [("sngan", False), ("dcgan", False), ("sagan", True), ("biggan", True)])
def test_generator_sn_follows_the_model(name, expect_sn):
    g = build_network(ModelConfig(name=name, res=32, ch=8, n_classes=4), "G")
    layers = [m for m in g.modules() if isinstance(m, SN_TYPES)]
    exempt = [m for m in layers if getattr(m, "_gancli_no_sn", False)]
    if expect_sn:
        # everything but the CBN gain/bias maps (and BigGAN's shared embedding) is normalized
        assert len(sn_layers(g)) == len(layers) - len(exempt) > 5
        assert all(not is_spectral_normalized(m) for m in exempt)
    else:
        assert sn_layers(g) == []


def test_apply_is_idempotent_and_raw_weight_is_the_parameter():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Linear(4, 2))
    assert apply_spectral_norm(net) == 2
    assert apply_spectral_norm(net) == 0
    names = {n for n, _ in net.named_parameters()}
    assert "0.parametrizations.weight.original" in names
    assert raw_weight(net[0]) is net[0].parametrizations.weight.original
