"""Sampling speed and memory.

    python benchmarks/sample_speed.py                       # sagan at 32 and 128 px, ch 64, batch 64
    python benchmarks/sample_speed.py --models sagan biggan --res 32 64 128 --ch 32
    python benchmarks/sample_speed.py --npz 10000 100000    # peak memory of `gancli sample --npz`

The first form times G's forward pass (eval mode, no grad) per model and resolution. ``--npz N ...``
writes a checkpoint of a tiny class-conditional model (sagan, ch 4, 32 px, 10 classes) and, for each
N, runs in a fresh process (1) ``sample_to_files(..., npz=...)``, what ``gancli sample CKPT -n N --npz
out.npz`` runs (streamed: a batch at a time), and (2) the same images made in memory first (``sample()``
then ``save_npz``, what ``--npz`` did before it streamed), and reports each process's peak resident memory (VmHWM in /proc/self/status) and
images/s (sampling and writing, after the imports and the checkpoint load).

Untrained weights (neither speed nor memory depends on them). Prints markdown tables.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# runs in the fresh process: argv = mode, checkpoint, n, npz path, batch size
CHILD = r"""
import json, re, sys, time
mode, ckpt, n, npz, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
from gancli.config import SampleRequest
from gancli.sampling import load_generator, sample, sample_to_files, save_npz
gen = load_generator(ckpt, device="cpu")
req = SampleRequest(n=n, seed=0, batch_size=batch)
start = time.perf_counter()
if mode == "streamed":  # what `gancli sample CKPT -n N --npz PATH` runs
    sample_to_files(gen, req, None, npz=npz)
else:
    save_npz(npz, sample(gen, req))
seconds = time.perf_counter() - start
peak_kb = int(re.search(r"VmHWM:\s+(\d+) kB", open("/proc/self/status").read()).group(1))
print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024}))
"""


def tiny_checkpoint(path: Path) -> Path:
    """A checkpoint of an untrained sagan, ch 4, 32 px, 10 classes (the format ``gancli sample`` reads)."""
    from gancli.checkpoint import save_checkpoint
    from gancli.config import ModelConfig
    from gancli.models import build_models, resolve_model

    cfg = resolve_model(ModelConfig(name="sagan", res=32, ch=4, n_classes=10))
    G, D = build_models(cfg)
    dataset = {"name": "shapes", "resolution": 32, "channels": 3, "label_kind": "class", "n_classes": 10,
               "class_names": [], "attr_names": [], "label_frequencies": [0.1] * 10, "size": 0}
    state = {"gancli_version": "0.1.0", "model_config": cfg.to_dict(), "train_config": {}, "dataset": dataset,
             "step": 0, "method": "gan", "method_state": {}, "networks": {"G": G.state_dict(), "D": D.state_dict()},
             "ema": {}}
    return save_checkpoint(path, state)


def npz_memory(counts: list[int], batch: int) -> None:
    with tempfile.TemporaryDirectory(prefix="gancli-bench-") as tmp:
        ckpt = tiny_checkpoint(Path(tmp) / "tiny.pt")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                             os.environ.get("PYTHONPATH", "")])}
        print(f"sagan ch 4, 32 px, 10 classes, batch {batch}, CPU, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')}")
        print("| images | .npz | how | peak RSS | images/s |")
        print("|---|---|---|---|---|")
        for n in counts:
            for mode in ("streamed", "in memory"):
                npz = Path(tmp) / "out.npz"
                result = subprocess.run([sys.executable, "-c", CHILD, mode, str(ckpt), str(n), str(npz), str(batch)],
                                        capture_output=True, text=True, env=env)
                if result.returncode != 0:
                    print(result.stderr, file=sys.stderr)
                    raise SystemExit(f"{mode} with {n} images failed")
                figures = json.loads(result.stdout.strip().splitlines()[-1])
                size_mb = npz.stat().st_size / 2**20
                npz.unlink()
                print(f"| {n:,} | {size_mb:,.0f} MiB | {mode} | {figures['peak_mb']:,.0f} MiB | "
                      f"{n / figures['seconds']:,.0f} |", flush=True)


def forward_speed(args) -> None:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["sagan"])
    parser.add_argument("--res", nargs="+", type=int, default=[32, 128])
    parser.add_argument("--ch", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--images", type=int, default=256, help="images timed per configuration")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--npz", nargs="+", type=int, metavar="N",
                        help="instead: peak memory and images/s of --npz for N images of a tiny model")
    args = parser.parse_args()
    if args.npz:
        npz_memory(args.npz, args.batch)
    else:
        forward_speed(args)


if __name__ == "__main__":
    main()
