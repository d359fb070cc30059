"""Trains the ``shapes-net`` classifier and writes the weights that ship with gancli.

    python -m gancli.metrics.train_shapes_net [--out gancli/metrics/weights/shapes_net.pt]
    python -m gancli.metrics.train_shapes_net --styles both     # shapes-pair-net: fills and outlines

Training data: 40 000 ``shapes`` images (train split, seed 0) at 32 px, half of them rendered at 64 px
and area-downsampled, so the net sees both renderings; light Gaussian noise and blur make it tolerant
of the soft edges of generated images. Held out: 4 000 images of the test split. Deterministic on CPU;
about 2 minutes on 2 cores. ``--styles both`` (shapes-pair-net) renders every other scene as
shapes-pair's outline style instead (B's style; the filled one is A's), in training and held out.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from gancli.data.base import to_float
from gancli.data.shapes import SHAPE_CLASSES, render_shapes, sample_params
from gancli.data.shapes_pair import render_outlines
from gancli.metrics.shapes_net import INPUT_RES, PAIR_WEIGHTS_PATH, WEIGHTS_PATH, ShapesNet

STYLES = ("fill", "both")


def _render(params, res: int, styles: str) -> torch.Tensor:
    """float (N, 3, res, res): filled; with ``both``, the odd-numbered scenes as outlines."""
    x = to_float(torch.from_numpy(render_shapes(params, res)))
    if styles == "both":
        odd = torch.arange(1, len(x), 2)
        x[odd] = to_float(torch.from_numpy(render_outlines(params.take(odd.numpy()), res)))
    return x


def _images(n: int, seed: int, stream: int, styles: str = "fill") -> tuple[torch.Tensor, torch.Tensor]:
    params = sample_params(n, seed, stream)
    x32 = _render(params, INPUT_RES, styles)
    half = n // 2
    x32[:half] = F.avg_pool2d(_render(params.take(torch.arange(half).numpy()), 2 * INPUT_RES, styles), 2)
    return x32, torch.from_numpy(params.labels)


def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """A blurred copy of about 30% of x (half and half with a 3x3 box blur) and Gaussian noise of a
    random strength up to 0.05 (on [-1, 1]): generated images have soft edges and some grain."""
    blur = torch.rand(len(x), 1, 1, 1, generator=g) < 0.3
    soft = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    x = torch.where(blur, 0.5 * x + 0.5 * soft, x)
    return x + 0.05 * torch.rand(len(x), 1, 1, 1, generator=g) * torch.randn(x.shape, generator=g)


def accuracy(net: ShapesNet, x: torch.Tensor, y: torch.Tensor) -> float:
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(x[i: i + 500]).argmax(1) for i in range(0, len(x), 500)])
    return (pred == y).float().mean().item()


def train_shapes_net(epochs: int = 2, n_train: int = 40_000, seed: int = 0, styles: str = "fill") -> tuple[ShapesNet, float]:
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    x, y = _images(n_train, seed, 0, styles)
    x_test, y_test = _images(4000, seed, 1, styles)
    net = ShapesNet(n_classes=len(SHAPE_CLASSES))
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    steps = epochs * (n_train // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(n_train, generator=g)
        for i in range(0, n_train - 127, 128):
            idx = order[i: i + 128]
            loss = F.cross_entropy(net(augment(x[idx], g)), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}, held-out accuracy {accuracy(net, x_test, y_test):.4f}")
    return net, accuracy(net, x_test, y_test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="[weights/shapes_net.pt; with --styles both: "
                                                                  "weights/shapes_pair_net.pt]")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--styles", choices=STYLES, default="fill",
                        help="fill: shapes-net; both: shapes-pair-net (fills and outlines)")
    args = parser.parse_args()
    if args.out is None:
        args.out = PAIR_WEIGHTS_PATH if args.styles == "both" else WEIGHTS_PATH
    started = time.time()
    net, acc = train_shapes_net(args.epochs, styles=args.styles)
    state = {"n_classes": len(SHAPE_CLASSES), "classes": list(SHAPE_CLASSES), "test_accuracy": acc, "styles": args.styles,
             "weights": {k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, args.out)
    print(f"held-out accuracy {acc:.4f}; wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KB) "
          f"in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
