"""The collapse statistic: layout maps, their diversity and the ratio, against hand-made images."""
import pytest
import torch

from gancli.methods.collapse import collapse_ratio, layout_diversity, layout_maps


def _square(x0, y0, size=8, res=32, fg=1.0, bg=-1.0):
    image = torch.full((3, res, res), bg)
    image[:, y0: y0 + size, x0: x0 + size] = fg
    return image


def test_layout_map_is_where_an_image_differs_from_its_border():
    image = _square(0, 0, size=16, res=32)[None]  # the top-left quarter; the border median is the background
    maps = layout_maps(image, res=2)
    torch.testing.assert_close(maps, torch.tensor([[1.0, 0.0, 0.0, 0.0]]))


def test_diversity_is_the_mean_total_variation_between_layouts():
    a = _square(0, 0, size=16)  # top-left quarter
    b = _square(16, 16, size=16)  # bottom-right quarter: disjoint
    assert layout_diversity(torch.stack([a, b])) == pytest.approx(1.0)
    assert layout_diversity(torch.stack([a, a, a])) == pytest.approx(0.0)
    # colours do not matter, only where things are
    assert layout_diversity(torch.stack([a, _square(0, 0, size=16, fg=0.3, bg=0.9)])) == pytest.approx(0.0, abs=1e-6)


def test_ratio_is_one_for_a_faithful_map_and_falls_when_every_output_shares_one_pose():
    inputs = torch.stack([_square(x, y) for x in (0, 12, 24) for y in (0, 12, 24)])
    assert collapse_ratio(inputs.flip(1), inputs) == pytest.approx(1.0)  # colours changed, layout kept
    centred = torch.stack([_square(12, 12, fg=c) for c in torch.linspace(-0.5, 1, 9).tolist()])
    assert collapse_ratio(centred, inputs) < 0.05
    with pytest.raises(ValueError):
        layout_diversity(inputs[:1])


def test_faint_noise_does_not_count_as_layout_and_blank_images_have_none():
    clean = _square(4, 4)
    noisy = clean + 0.04 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(layout_maps(noisy[None]), layout_maps(clean[None]))
    blanks = torch.full((4, 3, 32, 32), 0.2) + 0.01 * torch.randn(4, 3, 32, 32)
    assert layout_maps(blanks).abs().sum() == 0
    assert layout_diversity(blanks) == 0.0  # identical (empty) layouts: a collapse
