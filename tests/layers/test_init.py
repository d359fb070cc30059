"""SNGAN's Xavier init (chainer code, mimicry): gain sqrt(2) on the residual blocks' 3x3 convs, gain 1
on their 1x1 shortcuts and on linear / embedding layers; U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))."""
import math

import pytest
import torch

from gancli.config import ModelConfig
from gancli.layers import raw_weight
from gancli.models import build_network


def _bound(weight: torch.Tensor, gain: float) -> float:
    fan_in = weight.shape[1] * weight[0, 0].numel()
    fan_out = weight.shape[0] * weight[0, 0].numel()
    return gain * math.sqrt(6.0 / (fan_in + fan_out))


def _check_uniform(weight: torch.Tensor, bound: float) -> None:
    w = weight.detach()
    assert w.abs().max().item() <= bound
    assert w.abs().max().item() == pytest.approx(bound, rel=0.02)  # thousands of draws reach the edge
    # std of U(-b, b) is b / sqrt(3); five standard errors of a sample std of n uniform draws
    assert w.std().item() == pytest.approx(bound / math.sqrt(3.0), rel=5 * math.sqrt(0.8 / (4 * w.numel())))


@pytest.mark.parametrize("which", ["G", "D"])
def test_sngan_block_convs_have_gain_sqrt2_and_shortcuts_gain_1(which):
    cfg = ModelConfig(name="sngan", res=32, ch=32, n_classes=10)
    net = build_network(cfg, which)
    block = net.blocks[1]
    conv1, conv2, conv_sc = raw_weight(block.conv1), raw_weight(block.conv2), raw_weight(block.conv_sc)
    _check_uniform(conv1, _bound(conv1, math.sqrt(2.0)))
    _check_uniform(conv2, _bound(conv2, math.sqrt(2.0)))
    _check_uniform(conv_sc, _bound(conv_sc, 1.0))
    # the 3x3 convs are wider by exactly sqrt(2) than gain-1 Xavier would make them
    assert conv1.std().item() / (_bound(conv1, 1.0) / math.sqrt(3.0)) == pytest.approx(math.sqrt(2.0), rel=0.03)


def test_sngan_linear_and_embedding_layers_have_gain_1():
    cfg = ModelConfig(name="sngan", res=32, ch=32, n_classes=10)
    g, d = build_network(cfg, "G"), build_network(cfg, "D")
    _check_uniform(g.linear.weight, _bound(g.linear.weight, 1.0))
    embed = raw_weight(d.head.embed)
    _check_uniform(embed, _bound(embed, 1.0))
    psi = raw_weight(d.head.psi)
    assert psi.abs().max().item() <= _bound(psi, 1.0)


def test_other_schemes_ignore_the_gain():
    cfg = ModelConfig(name="sngan", res=32, ch=32, init="normal")
    g = build_network(cfg, "G")
    assert g.blocks[0].conv1.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert g.blocks[0].conv_sc.weight.std().item() == pytest.approx(0.02, rel=0.1)
