"""The history of generated images D trains on (Shrivastava et al. 2017; Zhu et al. 2017, sec. 4).

CycleGAN updates each D on fakes drawn from a pool of the last generated images rather than only
the newest, so that D does not chase G's latest mode (pool of 50, as the paper and
junyanz/pytorch-CycleGAN-and-pix2pix's ``ImagePool`` have it). Per image of a query, in order:

    pool not full:  store the image, return it
    pool full:      with probability 1/2 return a uniformly chosen stored image and put the new one
                    in its place; otherwise return the new image and leave the pool as it is

The coin (``u ~ U[0, 1)``, swap when ``u > 0.5``) and the slot (``randint(0, size)``) come from the
pool's own ``torch.Generator``, drawn in that order and only when the pool is full, so a pool's
outputs depend only on its seed and its inputs; ``state_dict()`` holds the stored images, their
count and the generator state, and a pool restored from it continues bit-exactly.
"""
from __future__ import annotations

import torch


class ImagePool:
    """``ImagePool(size=50, seed=0)``; ``query(images: (N, C, H, W)) -> (N, C, H, W)``, detached.

    ``size = 0`` turns the pool off: ``query`` returns its input as it is. Stored images live on the
    device (and in the dtype) of the images queried; the generator is a CPU one.
    """

    def __init__(self, size: int = 50, seed: int = 0, generator: torch.Generator | None = None):
        if size < 0:
            raise ValueError(f"pool size must be >= 0, not {size}")
        self.size = int(size)
        self.generator = generator if generator is not None else torch.Generator().manual_seed(seed)
        self.images: list[torch.Tensor] = []  # each (C, H, W)

    def __len__(self) -> int:
        return len(self.images)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """images: (N, C, H, W) fresh fakes -> (N, C, H, W): per image itself or a stored one."""
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                image = image.clone()
                self.images.append(image)
                out.append(image)
            elif torch.rand((), generator=self.generator).item() > 0.5:
                slot = int(torch.randint(self.size, (), generator=self.generator))
                out.append(self.images[slot])
                self.images[slot] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict:
        """``{"size", "count", "images": (count, C, H, W) or an empty tensor, "rng": generator state}``."""
        stored = torch.stack(self.images) if self.images else torch.empty(0)
        return {"size": self.size, "count": len(self.images), "images": stored,
                "rng": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        if int(state["size"]) != self.size:
            raise ValueError(f"pool state is of a pool of {state['size']} images, this pool holds {self.size}")
        count = int(state["count"])
        images = state["images"]
        if images.shape[0] != count:
            raise ValueError(f"pool state says {count} images but holds {images.shape[0]}")
        self.images = [image.clone() for image in images]
        self.generator.set_state(state["rng"].cpu())


__all__ = ["ImagePool"]
