"""Weight initialisation schemes, applied before spectral normalization wraps the weights."""
from __future__ import annotations

from torch import nn

INIT_SCHEMES = ("ortho", "xavier", "normal", "default")


def init_weights(net: nn.Module, scheme: str) -> None:
    """ortho: orthogonal (BigGAN); xavier: Xavier-uniform (SNGAN); normal: N(0, 0.02) (DCGAN);
    default: PyTorch's. Biases start at 0. Modules flagged ``_gancli_keep_init`` (CBN gain/bias maps,
    which must start at 0) are left alone."""
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init {scheme!r}; choose one of {INIT_SCHEMES}")
    if scheme == "default":
        return
    for m in net.modules():
        if getattr(m, "_gancli_keep_init", False):
            continue
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            if scheme == "ortho":
                nn.init.orthogonal_(m.weight)
            elif scheme == "xavier":
                nn.init.xavier_uniform_(m.weight)
            else:
                nn.init.normal_(m.weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
