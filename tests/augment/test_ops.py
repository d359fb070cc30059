"""The augmentation transforms against values computed by hand."""
import math

import numpy as np
import torch

from gancli.augment.ops import (add_brightness, apply_color, color_matrices, cutout, flip_x, rotate90,
                                scale_contrast_about_mean, scale_saturation_about_mean, translate)


def _x(n=3, c=3, h=6, w=6, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_translate_with_zeros_and_with_reflection():
    x = _x()
    tx, ty = torch.tensor([2, -1, 0]), torch.tensor([0, 1, -2])
    out = translate(x, tx, ty, max_shift=2, fill="zeros")
    for n in range(3):
        expected = np.zeros((3, 6, 6), dtype=np.float32)
        for i in range(6):
            for j in range(6):
                si, sj = i - int(ty[n]), j - int(tx[n])
                if 0 <= si < 6 and 0 <= sj < 6:
                    expected[:, i, j] = x[n, :, si, sj].numpy()
        np.testing.assert_array_equal(out[n].numpy(), expected)
    reflected = translate(x, tx, ty, max_shift=2, fill="reflect")
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (2, 2), (2, 2)), mode="reflect")
    for n in range(3):
        np.testing.assert_array_equal(reflected[n].numpy(),
                                      padded[n, :, 2 - int(ty[n]): 8 - int(ty[n]), 2 - int(tx[n]): 8 - int(tx[n])])


def test_cutout_zeroes_a_clipped_rectangle():
    x = _x()
    out = cutout(x, torch.tensor([0, 3, 5]), torch.tensor([0, 3, 6]), (3, 3))
    for n, (cy, cx) in enumerate([(0, 0), (3, 3), (5, 6)]):
        mask = np.ones((6, 6), dtype=np.float32)
        mask[max(cy - 1, 0): cy + 2, max(cx - 1, 0): cx + 2] = 0
        np.testing.assert_array_equal(out[n].numpy(), x[n].numpy() * mask)


def test_colour_ops_of_diffaugment():
    x = _x(n=2)
    torch.testing.assert_close(add_brightness(x, torch.tensor([0.5, -0.25])),
                               x + torch.tensor([0.5, -0.25]).view(2, 1, 1, 1))
    mean_c = x.mean(1, keepdim=True)
    torch.testing.assert_close(scale_saturation_about_mean(x, torch.tensor([0.0, 2.0])),
                               torch.cat([mean_c[:1].expand(1, 3, 6, 6), 2 * x[1:] - mean_c[1:]]))
    mean = x.mean((1, 2, 3), keepdim=True)
    torch.testing.assert_close(scale_contrast_about_mean(x, torch.tensor([0.5, 1.5])),
                               (x - mean) * torch.tensor([0.5, 1.5]).view(2, 1, 1, 1) + mean)


def test_flip_and_quarter_turns():
    x = _x(n=4)
    torch.testing.assert_close(flip_x(x, torch.tensor([1, 0, 1, 0])),
                               torch.stack([x[0].flip(-1), x[1], x[2].flip(-1), x[3]]), rtol=0, atol=0)
    k = torch.tensor([0, 1, 2, 3])
    out = rotate90(x, k)
    for n in range(4):
        np.testing.assert_array_equal(out[n].numpy(), np.rot90(x[n].numpy(), int(k[n]), axes=(1, 2)))


def test_colour_matrices_by_their_definitions():
    n = 5
    v = torch.ones(3, dtype=torch.float64) / math.sqrt(3)
    zero, one = torch.zeros(n), torch.ones(n)
    identity = color_matrices(n, zero, one, zero, zero, one)
    torch.testing.assert_close(identity, torch.cat([torch.eye(3, dtype=torch.float64).expand(n, 3, 3),
                                                    torch.zeros(n, 3, 1, dtype=torch.float64)], 2))
    rgb = torch.tensor([0.9, -0.3, 0.1], dtype=torch.float64)
    grey = (rgb @ v) * v
    # saturation 0 keeps only the grey component; lumaflip mirrors it; brightness b adds b to each channel
    sat0 = color_matrices(1, zero[:1], one[:1], zero[:1], zero[:1], torch.zeros(1))[0, :, :3]
    torch.testing.assert_close(sat0 @ rgb, grey)
    flip = color_matrices(1, zero[:1], one[:1], one[:1], zero[:1], one[:1])[0, :, :3]
    torch.testing.assert_close(flip @ rgb, rgb - 2 * grey)
    bright = color_matrices(1, torch.tensor([0.2]), one[:1], zero[:1], zero[:1], one[:1])[0]
    torch.testing.assert_close(bright[:, :3] @ rgb + bright[:, 3], rgb + 0.2)
    # hue: a rotation about the grey axis (grey kept, the rest keeps its length), 2 pi is the identity
    hue = color_matrices(1, zero[:1], one[:1], zero[:1], torch.tensor([2.0]), one[:1])[0, :, :3]
    turned = hue @ rgb
    torch.testing.assert_close(turned @ v, rgb @ v)
    torch.testing.assert_close((turned - grey).norm(), (rgb - grey).norm())
    assert (turned - rgb).norm() > 0.1
    full = color_matrices(1, zero[:1], one[:1], zero[:1], torch.tensor([2 * math.pi]), one[:1])[0, :, :3]
    torch.testing.assert_close(full, torch.eye(3, dtype=torch.float64), rtol=0, atol=1e-6)  # float32 2 pi
    # applied per pixel
    x = _x(n=1)
    m = color_matrices(1, torch.tensor([0.1]), torch.tensor([1.3]), one[:1], torch.tensor([0.7]), torch.tensor([0.5]))
    expected = torch.einsum("ij,jhw->ihw", m[0, :, :3].float(), x[0]) + m[0, :, 3].float()[:, None, None]
    torch.testing.assert_close(apply_color(x, m)[0], expected)
