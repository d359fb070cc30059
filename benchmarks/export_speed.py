"""Export time, file size and images/s of the eager generator vs its TorchScript and ONNX exports.

    python benchmarks/export_speed.py                          # sagan at 32, 64 and 128 px, ch 32, CPU
    python benchmarks/export_speed.py --res 32 --ch 64 --batch 64 --images 256

For each resolution: a checkpoint of an untrained class-conditional sagan (10 classes; neither
speed nor size depends on the weights) is written to a temporary folder and exported with
``gancli.export.export_model`` (what ``gancli export --format torchscript|onnx`` runs: the trace or
``torch.onnx.export``, the file, and the check against the eager G, which the time includes);
then G's forward is timed on the CPU in eval mode without gradients, ``--batch`` images at a time,
after one warm-up batch: the eager module ``gancli sample`` runs, ``torch.jit.load`` of the
TorchScript file, and an onnxruntime ``InferenceSession`` (CPUExecutionProvider) of the ONNX file.
The ONNX columns are left out when onnx, onnxscript or onnxruntime is missing. Prints a markdown table.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_checkpoint(path: Path, res: int, ch: int) -> Path:
    """A checkpoint of an untrained sagan, class-conditional (10 classes), in the format gancli reads."""
    from gancli.checkpoint import save_checkpoint
    from gancli.config import ModelConfig
    from gancli.models import build_models, resolve_model

    cfg = resolve_model(ModelConfig(name="sagan", res=res, ch=ch, n_classes=10))
    G, D = build_models(cfg)
    dataset = {"name": "shapes", "resolution": res, "channels": 3, "label_kind": "class", "n_classes": 10,
               "class_names": [], "attr_names": [], "label_frequencies": [0.1] * 10, "size": 0}
    state = {"gancli_version": "0.1.0", "model_config": cfg.to_dict(), "train_config": {}, "dataset": dataset,
             "step": 0, "method": "gan", "method_state": {}, "networks": {"G": G.state_dict(), "D": D.state_dict()},
             "ema": {}}
    return save_checkpoint(path, state)


def images_per_second(run, z, labels, batch: int) -> float:
    run(z[:batch], labels[:batch])  # warm-up
    start = time.perf_counter()
    for i in range(0, len(z), batch):
        run(z[i: i + batch], labels[i: i + batch])
    return len(z) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--res", nargs="+", type=int, default=[32, 64, 128])
    parser.add_argument("--ch", type=int, default=32)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--images", type=int, default=64, help="images timed per configuration")
    args = parser.parse_args()

    import numpy as np
    import torch

    from gancli.export import ExportRequest, export_model
    from gancli.export.onnx import missing_packages
    from gancli.sampling import load_generator

    formats = ["torchscript"] + ([] if missing_packages() else ["onnx"])
    print(f"sagan, ch {args.ch}, 10 classes, batch {args.batch}, CPU ({torch.get_num_threads()} threads), "
          f"torch {torch.__version__.split('+')[0]}")
    print("| res | G params | format | export s | file MB | max abs diff | eager img/s | export img/s |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="gancli-bench-") as tmp:
        for res in args.res:
            ckpt = write_checkpoint(Path(tmp) / f"checkpoint-{res}.pt", res, args.ch)
            gen = load_generator(ckpt)
            params = sum(p.numel() for p in gen.G.parameters())
            g = torch.Generator().manual_seed(0)
            z = torch.randn(args.images, gen.model_config.z_dim, generator=g)
            labels = torch.randint(0, 10, (args.images,), generator=g)
            with torch.no_grad():
                eager = images_per_second(lambda a, b: gen.G(a, b), z, labels, args.batch)
            for fmt in formats:
                out = Path(tmp) / (f"sagan-{res}-ts.pt" if fmt == "torchscript" else f"sagan-{res}.onnx")
                start = time.perf_counter()
                result = export_model(ExportRequest(ckpt, format=fmt, out=out))
                seconds = time.perf_counter() - start
                if fmt == "torchscript":
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        module = torch.jit.load(str(out))

                    def run(a, b, module=module):
                        with torch.no_grad():
                            return module(a, b)
                else:
                    import onnxruntime

                    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])

                    def run(a, b, session=session):
                        return session.run(None, {"z": np.ascontiguousarray(a.numpy()), "labels": b.numpy()})
                speed = images_per_second(run, z, labels, args.batch)
                print(f"| {res} | {params / 1e6:.2f}M | {fmt} | {seconds:.1f} | {result.size_bytes / 1e6:.1f} | "
                      f"{result.max_abs_diff:.1e} | {eager:.1f} | {speed:.1f} |", flush=True)


if __name__ == "__main__":
    main()
