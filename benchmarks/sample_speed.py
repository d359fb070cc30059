"""Sampling speed: images/s of G's forward pass (eval mode, no grad), per model and resolution.

    python benchmarks/sample_speed.py                       # sagan at 32 and 128 px, ch 64, batch 64
    python benchmarks/sample_speed.py --models sagan biggan --res 32 64 128 --ch 32

Untrained weights (the speed does not depend on them). Prints a markdown table.
"""
from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["sagan"])
    parser.add_argument("--res", nargs="+", type=int, default=[32, 128])
    parser.add_argument("--ch", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--images", type=int, default=256, help="images timed per configuration")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    import torch

    from gancli.config import ModelConfig
    from gancli.models import build_network, resolve_model
    from gancli.sampling import run_generator, truncated_normal

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))
    print(f"device: {device} ({torch.get_num_threads()} threads)")
    print("| model | res | ch | batch | G params | images/s | ms/image |")
    print("|---|---|---|---|---|---|---|")
    for model in args.models:
        for res in args.res:
            cfg = resolve_model(ModelConfig(name=model, res=res, ch=args.ch, n_classes=10))
            G = build_network(cfg, "G").to(device).eval().requires_grad_(False)
            z = truncated_normal(args.images, cfg.z_dim, None, torch.Generator().manual_seed(0))
            y = torch.arange(args.images) % 10
            run_generator(G, z[: args.batch], y[: args.batch], args.batch)  # warm-up
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            run_generator(G, z, y, args.batch)  # includes the uint8 conversion and the copy to the CPU
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            params = sum(p.numel() for p in G.parameters())
            print(f"| {model} | {res} | {args.ch} | {args.batch} | {params / 1e6:.2f}M | {args.images / seconds:.1f} | "
                  f"{1000 * seconds / args.images:.1f} |", flush=True)


if __name__ == "__main__":
    main()
