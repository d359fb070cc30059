"""The collapse statistic: salient masks, poses, their diversity and the ratio, on hand-made images."""
import math

import pytest
import torch

from gancli.methods.collapse import collapse_ratio, pose_diversity, poses, salient_masks


def _square(x0, y0, size=8, res=32, fg=1.0, bg=-1.0):
    image = torch.full((3, res, res), bg)
    image[:, y0: y0 + size, x0: x0 + size] = fg
    return image


def test_pose_is_the_centroid_and_spread_of_what_stands_out():
    (cx, cy, spread), = poses(_square(0, 0, size=16)[None]).tolist()  # the top-left quarter
    assert cx == pytest.approx(0.25) and cy == pytest.approx(0.25)
    # rms distance from the centre of a 16x16 block of pixel centres, in units of the 32-px side
    assert spread == pytest.approx(math.sqrt(2 * (16**2 - 1) / 12) / 32, rel=1e-5)


def test_diversity_is_the_mean_distance_between_poses_and_ignores_colour():
    a, b = _square(0, 0), _square(16, 0)  # the same square, moved right by half the image
    assert pose_diversity(torch.stack([a, b])) == pytest.approx(0.5)
    assert pose_diversity(torch.stack([a, a, a])) == 0.0
    assert pose_diversity(torch.stack([a, _square(0, 0, fg=0.3, bg=0.9)])) == pytest.approx(0.0, abs=1e-6)


def test_ratio_is_one_for_a_faithful_map_and_falls_when_every_output_shares_one_pose():
    inputs = torch.stack([_square(x, y) for x in (0, 12, 24) for y in (0, 12, 24)])
    assert collapse_ratio(inputs.flip(1), inputs) == pytest.approx(1.0)  # colours changed, poses kept
    centred = torch.stack([_square(12, 12, fg=c) for c in torch.linspace(-0.5, 1, 9).tolist()])
    assert collapse_ratio(centred, inputs) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError):
        pose_diversity(inputs[:1])


def test_faint_noise_does_not_count_and_blank_images_sit_at_the_centre():
    clean = _square(4, 4)
    noisy = clean + 0.04 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
    assert torch.equal(salient_masks(noisy[None]), salient_masks(clean[None]))
    blanks = torch.full((4, 3, 32, 32), 0.2) + 0.01 * torch.randn(4, 3, 32, 32)
    assert salient_masks(blanks).sum() == 0
    torch.testing.assert_close(poses(blanks), torch.tensor([[0.5, 0.5, 0.0]] * 4))
    assert pose_diversity(blanks) == 0.0  # identical (empty) poses: a collapse
