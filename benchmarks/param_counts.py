"""Prints the parameter-count table of docs/architecture.md (markdown).

    python benchmarks/param_counts.py [--ch 64] [--n-classes 10]
"""
import argparse

import torch

from gancli.config import ModelConfig
from gancli.models import MODELS, build_models, count_parameters, resolve_model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ch", type=int, default=64)
    parser.add_argument("--n-classes", type=int, default=10)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    print(f"Parameters with ch={args.ch}, {args.n_classes} classes:\n")
    print("| model | res | attention at | G params | D params |")
    print("|---|---|---|---|---|")
    for name in ["dcgan", "cnn", "sngan", "sagan", "biggan", "began"]:
        for res in (28, 32, 64) if name in ("cnn", "began") else (32, 64, 128, 256):
            classes = 0 if MODELS.get(name).autoencoder_d else args.n_classes  # began is unconditional
            cfg = resolve_model(ModelConfig(name=name, res=res, ch=args.ch, n_classes=classes))
            g, d = build_models(cfg)
            attn = ", ".join(f"{r}x{r}" for r in cfg.attn_res) or "-"
            print(f"| {name} | {res} | {attn} | {count_parameters(g) / 1e6:.2f} M | {count_parameters(d) / 1e6:.2f} M |")
    assert set(MODELS.names()) == {"dcgan", "cnn", "sngan", "sagan", "biggan", "began"}


if __name__ == "__main__":
    main()
