"""Differentiable image transforms with their random parameters given, on x: (N, C, H, W) in [-1, 1].

Each takes per-sample parameters (tensors of shape (N,)), so the transforms can be tested against
values computed by hand; the augments (``diffaug``, ``ada``) draw the parameters.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

#: ADA's "luma axis": the grey diagonal (1, 1, 1) / sqrt(3) of RGB, about which it flips luma, rotates
#: hue and scales saturation
LUMA = (1.0, 1.0, 1.0)


def _per_sample(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return v.to(x.dtype).view(-1, 1, 1, 1)


def add_brightness(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """x + b_n (DiffAugment: b ~ U(-0.5, 0.5); ADA: b ~ N(0, 0.2))."""
    return x + _per_sample(b, x)


def scale_saturation_about_mean(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """(x - mean_c(x)) * s_n + mean_c(x): each pixel's channels pulled towards (s < 1) or pushed from
    their mean (DiffAugment: s ~ U(0, 2))."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * _per_sample(s, x) + mean


def scale_contrast_about_mean(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """(x - mean(x)) * c_n + mean(x), the mean over the whole image (DiffAugment: c ~ U(0.5, 1.5))."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * _per_sample(c, x) + mean


def translate(x: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor, max_shift: int, fill: str = "zeros") -> torch.Tensor:
    """Shifts image n by (tx_n, ty_n) whole pixels, |t| <= max_shift < the image side:
    out[n, :, i, j] = x[n, :, i - ty_n, j - tx_n].

    What comes in from outside is 0 (``fill="zeros"``: DiffAugment's mid-grey) or the image mirrored
    at its border (``"reflect"``: ADA's integer translation, which leaves no seam D could spot)."""
    n, c, h, w = x.shape
    pad = int(max_shift)
    if pad == 0:
        return x
    padded = F.pad(x, (pad, pad, pad, pad), mode="constant" if fill == "zeros" else "reflect")
    rows = (torch.arange(h, device=x.device)[None, :] + pad - ty.to(x.device).long()[:, None])  # (N, H)
    cols = (torch.arange(w, device=x.device)[None, :] + pad - tx.to(x.device).long()[:, None])  # (N, W)
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return out.permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, cy: torch.Tensor, cx: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Sets a size[0] x size[1] rectangle of image n to 0: rows cy_n - size[0] // 2 ... (clipped to the
    image), columns likewise (DiffAugment's cutout, a square of half the side)."""
    n, _, h, w = x.shape
    top = (cy.to(x.device).long() - size[0] // 2)[:, None]
    left = (cx.to(x.device).long() - size[1] // 2)[:, None]
    r = torch.arange(h, device=x.device)[None, :]
    col = torch.arange(w, device=x.device)[None, :]
    inside_rows = (r >= top) & (r < top + size[0])  # (N, H)
    inside_cols = (col >= left) & (col < left + size[1])  # (N, W)
    keep = ~(inside_rows[:, :, None] & inside_cols[:, None, :])
    return x * keep[:, None].to(x.dtype)


def flip_x(x: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Mirrors image n left-right where flip_n is true."""
    return torch.where(_per_sample(flip, x).bool(), x.flip(-1), x)


def rotate90(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Rotates image n by k_n quarter turns counter-clockwise (square images)."""
    out = x
    for turns in (1, 2, 3):
        chosen = _per_sample(k == turns, x).bool()
        out = torch.where(chosen, torch.rot90(x, turns, dims=(2, 3)), out)
    return out


def color_matrices(n: int, brightness: torch.Tensor, contrast: torch.Tensor, lumaflip: torch.Tensor,
                   hue: torch.Tensor, saturation: torch.Tensor) -> torch.Tensor:
    """ADA's colour transforms as one affine map per image, (N, 3, 4) acting on [r, g, b, 1]:

        C = T(b) · S(c) · L(i) · R(theta) · Sat(s), applied right to left, with v = luma axis (unit),
        Sat(s) = v vᵀ + s (I - v vᵀ)       (saturation about the luma axis)
        R(theta) = rotation by theta about v (hue)
        L(i) = I - 2 i v vᵀ                 (luma flip: i in {0, 1})
        S(c) = c I                          (contrast about mid-grey, 0 in [-1, 1])
        T(b) = translation by b (1, 1, 1)   (brightness)
    """
    dtype = torch.float64
    v = torch.tensor(LUMA, dtype=dtype)
    v = v / v.norm()
    eye = torch.eye(3, dtype=dtype)
    vv = torch.outer(v, v)
    s = saturation.to(dtype).view(-1, 1, 1)
    sat = vv + s * (eye - vv)
    theta = hue.to(dtype).view(-1, 1, 1)
    cross = torch.tensor([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]], dtype=dtype)
    rot = torch.cos(theta) * eye + torch.sin(theta) * cross + (1 - torch.cos(theta)) * vv  # Rodrigues
    flip = eye - 2 * lumaflip.to(dtype).view(-1, 1, 1) * vv
    linear = contrast.to(dtype).view(-1, 1, 1) * (flip @ rot @ sat)
    offset = brightness.to(dtype).view(-1, 1, 1) * torch.ones(n, 3, 1, dtype=dtype)
    return torch.cat([linear, offset], dim=2)


def apply_color(x: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """x (N, 3, H, W), matrices (N, 3, 4): out = M[:, :, :3] x + M[:, :, 3] per pixel."""
    m = matrices.to(x.device, x.dtype)
    return torch.einsum("nij,njhw->nihw", m[:, :, :3], x) + m[:, :, 3, None, None]


def fraction_of_side(side: int, ratio: float) -> int:
    """round(side * ratio), as DiffAugment sizes its shifts (1/8) and cutouts (1/2)."""
    return int(side * ratio + 0.5)


__all__ = ["add_brightness", "scale_saturation_about_mean", "scale_contrast_about_mean", "translate", "cutout",
           "flip_x", "rotate90", "color_matrices", "apply_color", "fraction_of_side", "LUMA"]
