"""Trains ``shapes-factor-net`` and writes the weights that ship with gancli; prints its held-out errors.

    python benchmarks/train_shapes_factor_net.py [--out gancli/metrics/weights/shapes_factor_net.pt]
                                                 [--epochs 4] [--n-train 40000]

The network (gancli/metrics/shapes_factor_net.py) learns every factor of the built-in shapes data:
the class (cross-entropy), the shape's and the background's colour (RGB), the centre (x, y) and the
radius (mean squared error on targets standardised by their training mean and std, one term each).

Training data: 40,000 shapes of seed 0, stream 2 (never the images of a run's train or test split,
streams 0 and 1), at 32 px, half of them rendered at 64 px and area-downsampled; the blur and noise
augmentation of shapes-net (gancli.metrics.train_shapes_net.augment) so the soft edges of
generated images do not throw it. Held out: 4,000 shapes of stream 3, rendered the same two ways.
Deterministic on the CPU for a given thread count; a few minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gancli.data.base import to_float  # noqa: E402
from gancli.data.shapes import SHAPE_CLASSES, ShapeParams, render_shapes, sample_params  # noqa: E402
from gancli.metrics.shapes_factor_net import FACTORS, WEIGHTS_PATH, ShapesFactorNet  # noqa: E402
from gancli.metrics.shapes_net import INPUT_RES  # noqa: E402
from gancli.metrics.train_shapes_net import augment  # noqa: E402

SEED, TRAIN_STREAM, TEST_STREAM = 0, 2, 3


def factor_targets(params: ShapeParams) -> torch.Tensor:
    """float32 (N, 9) in :data:`FACTORS` order: colours in [0, 1], centre and radius as fractions of the side."""
    return torch.from_numpy(np.concatenate([params.foreground, params.background, params.centers,
                                            params.radii[:, None]], axis=1).astype(np.float32))


def render_both_ways(params: ShapeParams, chunk: int = 2000) -> torch.Tensor:
    """float (N, 3, 32, 32) in [-1, 1]: the first half rendered at 64 px and area-downsampled, the
    rest rendered at 32 px (in chunks: 64 px float images of 20,000 shapes would take 1 GB)."""
    half = len(params) // 2
    parts = []
    for lo, hi, res in ((0, half, 2 * INPUT_RES), (half, len(params), INPUT_RES)):
        for start in range(lo, hi, chunk):
            images = to_float(torch.from_numpy(render_shapes(params.take(np.arange(start, min(start + chunk, hi))), res)))
            parts.append(F.avg_pool2d(images, res // INPUT_RES) if res > INPUT_RES else images)
    return torch.cat(parts)


@torch.no_grad()
def held_out_errors(net: ShapesFactorNet, x: torch.Tensor, params: ShapeParams) -> dict[str, float]:
    """Class accuracy; mean absolute errors of the shape's and the background's colour in 0-255
    levels (over the three channels), of the centre (over x and y) and the radius in pixels at 32 px."""
    net.eval()
    logits, factors = zip(*(net.predict(x[i: i + 500]) for i in range(0, len(x), 500)))
    logits, factors = torch.cat(logits), torch.cat(factors)
    error = (factors - factor_targets(params)).abs()
    return {"class_accuracy": float((logits.argmax(1) == torch.from_numpy(params.labels)).float().mean()),
            "shape_colour_mae_levels": float(255 * error[:, 0:3].mean()),
            "background_mae_levels": float(255 * error[:, 3:6].mean()),
            "position_mae_px": float(INPUT_RES * error[:, 6:8].mean()),
            "radius_mae_px": float(INPUT_RES * error[:, 8].mean())}


def format_errors(errors: dict[str, float]) -> str:
    return (f"class {100 * errors['class_accuracy']:.2f}%, shape colour {errors['shape_colour_mae_levels']:.2f} levels, "
            f"background {errors['background_mae_levels']:.2f} levels, position {errors['position_mae_px']:.3f} px, "
            f"radius {errors['radius_mae_px']:.3f} px")


def train_shapes_factor_net(epochs: int = 4, n_train: int = 40_000, n_test: int = 4000, batch_size: int = 128,
                            lr: float = 2e-3) -> tuple[ShapesFactorNet, dict[str, dict[str, float]]]:
    torch.manual_seed(SEED)
    g = torch.Generator().manual_seed(SEED)
    params = sample_params(n_train, SEED, TRAIN_STREAM)
    x, y, target = render_both_ways(params), torch.from_numpy(params.labels), factor_targets(params)
    test_params = sample_params(n_test, SEED, TEST_STREAM)
    x_test = render_both_ways(test_params)
    net = ShapesFactorNet(n_classes=len(SHAPE_CLASSES))
    net.factor_mean.copy_(target.mean(0))
    net.factor_std.copy_(target.std(0))
    standard = (target - net.factor_mean) / net.factor_std
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps = epochs * (n_train // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(n_train, generator=g)
        for i in range(0, n_train - batch_size + 1, batch_size):
            idx = order[i: i + batch_size]
            features = net.features(augment(x[idx], g))
            class_loss = F.cross_entropy(net.fc(features), y[idx])
            factor_loss = F.mse_loss(net.factors(features), standard[idx], reduction="none").mean(0).sum()
            loss = class_loss + factor_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        print(f"epoch {epoch + 1}: class loss {class_loss.item():.4f}, factor loss {factor_loss.item():.4f}; "
              f"held out: {format_errors(held_out_errors(net, x_test, test_params))}", flush=True)
    half = n_test // 2
    errors = {"all": held_out_errors(net, x_test, test_params),
              "64px": held_out_errors(net, x_test[:half], test_params.take(np.arange(half))),
              "32px": held_out_errors(net, x_test[half:], test_params.take(np.arange(half, n_test)))}
    return net, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--n-train", type=int, default=40_000)
    args = parser.parse_args()
    started = time.time()
    net, errors = train_shapes_factor_net(args.epochs, args.n_train)
    seconds = time.time() - started
    state = {"n_classes": len(SHAPE_CLASSES), "classes": list(SHAPE_CLASSES), "factors": list(FACTORS),
             "held_out": errors, "epochs": args.epochs, "n_train": args.n_train,
             "weights": {k: v.half() if v.is_floating_point() and k not in ("factor_mean", "factor_std") else v
                         for k, v in net.state_dict().items()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, args.out)
    print(f"held-out errors ({2 * (4000 // 2)} shapes of stream {TEST_STREAM}, at 32 px):")
    for name, value in errors.items():
        print(f"  {name:>4}: {format_errors(value)}")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KB) in {seconds:.0f} s "
          f"({torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
