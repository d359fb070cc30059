"""Minibatch standard deviation (ProGAN) against its formula by hand."""
import torch

from gancli.layers.mbstd import MinibatchStd


def test_each_image_gets_its_group_s_mean_standard_deviation():
    h = torch.randn(8, 5, generator=torch.Generator().manual_seed(0))
    out = MinibatchStd(4)(h)
    assert out.shape == (8, 6) and torch.equal(out[:, :5], h)
    for g in range(2):
        group = h[4 * g: 4 * g + 4].double()
        expected = (group.var(0, unbiased=False) + 1e-8).sqrt().mean()
        assert torch.allclose(out[4 * g: 4 * g + 4, 5].double(), expected.expand(4), rtol=1e-6)
    # a batch size the group does not divide: groups of gcd(N, 4)
    assert MinibatchStd(4)(h[:6]).shape == (6, 6)
    # identical images: their statistic is ~0 (what a collapsed G shows D)
    assert MinibatchStd(4)(h[:1].repeat(4, 1))[:, 5].max() < 1e-3
