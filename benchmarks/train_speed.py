"""Training speed and memory per model and resolution, on the current device.

For each configuration, in a fresh process: images/s of real training iterations (one D step + one
G step, batch 64 unless --batch), FLOPs per iteration (torch.utils.flop_counter, forward + backward;
both those executed and those of the textbook blocks, which gancli computes with fewer FLOPs by folding
resampling into the convolutions), achieved GFLOP/s against this machine's float32 matmul GFLOP/s, and peak memory of the first
iteration (CUDA: max allocated; CPU: peak growth of the resident set over its size before it). Then the
attention block's peak memory, fused vs explicit, at each model's attention map size.

    python benchmarks/train_speed.py                       # reference config + sweep at --ch 16
    python benchmarks/train_speed.py --models sagan --res 32 64 --ch 32 --reuse-fake
    python benchmarks/train_speed.py --memory-check        # SAGAN-128, attention at 64x64, batch 32
    python benchmarks/train_speed.py --no-reference --no-sweep --presets began ebgan wgan-gp bn ln sngan
    python benchmarks/train_speed.py --no-reference --no-sweep --cyclegan 64 128 256   # the paper's nets, batch 1
    python benchmarks/train_speed.py --scaling --plot docs/img/scaling.png   # cost against resolution and batch
    python benchmarks/train_speed.py --no-sweep --malloc keep default --adam plain fused --repeat 3  # A/B, interleaved

``--scaling`` times sagan and biggan (at --scaling-ch) against the resolution (32-256 at batch 16)
and the batch (16-256 at 32 px), prints img/s, s/iteration, GFLOP/s and peak memory, writes the
figures to a JSON file and, with --plot, draws them: how a run's time and memory grow, to predict
one before starting it (``gancli train --dry-run`` measures the actual configuration).

The reference configuration (always first) is ResNet SAGAN at 32 px, G width 256 and D width 128
(ch 64), 10 classes: the SNGAN/SAGAN CIFAR networks.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _matmul_gflops(device: str, rounds: int = 5) -> float:
    """float32 matmul GFLOP/s: the best of several rounds (the first round of a process runs slower
    while the clock and caches warm up: one round alone read 243 where the steady rate is 350-375)."""
    import torch

    n = 4096 if device == "cuda" else 2048
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(3):
        a @ b
    reps = 20 if device == "cuda" else 8
    best = 0.0
    for _ in range(rounds):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - start) / 1e9)
    return best


def _run(spec: dict, queue) -> None:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from gancli.config import TrainConfig
    from gancli.training import Trainer

    torch.manual_seed(0)
    if spec.get("malloc", "keep") == "keep":  # what every gancli command does at start (gancli.device)
        from gancli.device import keep_freed_memory

        keep_freed_memory()
    if spec.get("adam"):  # --adam fused|foreach: every torch.optim.Adam the methods build uses that path
        import functools

        torch.optim.Adam = functools.partial(torch.optim.Adam, **{spec["adam"]: True})
    if spec.get("preset"):  # a method / report row as its preset trains it (its own batch and widths)
        pair = spec["preset"].startswith("cyclegan")  # CycleGAN trains on two-domain data, without an EMA
        cfg = TrainConfig.from_options(dict(preset=spec["preset"], res=spec["res"], data_size=16 if pair else 256,
                                            device=spec["device"], amp=spec["amp"], ema=not pair,
                                            **({"dataset": "shapes-pair"} if pair else {}))).validate()
        spec["batch"], spec["ch"] = cfg.batch_size, cfg.model.ch
    else:
        cfg = TrainConfig.from_flat(dict(model=spec["model"], res=spec["res"], ch=spec["ch"], batch_size=spec["batch"],
                                         attn_res=spec.get("attn_res"), data_size=max(4 * spec["batch"], 256),
                                         device=spec["device"], reuse_fake=spec["reuse_fake"], amp=spec["amp"], ema=True,
                                         compile=spec.get("compile", False)))
    trainer = Trainer(cfg, show_progress=False)
    if spec.get("channels_last"):  # NHWC weights (cuDNN's preferred layout for tensor cores with --amp)
        for net in trainer.method.nets.values():
            net.to(memory_format=torch.channels_last)
    if spec.get("n_classes") is not None and spec["n_classes"] != trainer.model_cfg.n_classes:
        raise SystemExit("the shapes data has 8 classes; n_classes override is not supported")
    cuda = trainer.device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    from attention import RssPeak

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    warm_started = time.perf_counter()
    with RssPeak() as rss:
        trainer.train_step()  # warm-up (and the peak-memory step; with --compile: the compilation)
        sync()
        if spec.get("compile"):
            trainer.train_step()  # a second step: torch.compile may recompile once (dynamic shapes, EMA start)
            sync()
    warmup_s = time.perf_counter() - warm_started
    peak_mb = torch.cuda.max_memory_allocated() / 2**20 if cuda else rss.mib
    from gancli.layers import resample

    flops = textbook_flops = float("nan")
    if not spec.get("compile"):  # FLOPs are the eager network's; counting them would recompile a compiled one
        with FlopCounterMode(display=False) as counter:
            trainer.train_step()
        flops = counter.get_total_flops()
        with resample.textbook(), FlopCounterMode(display=False) as counter:  # the published blocks' FLOPs
            trainer.train_step()
        textbook_flops = counter.get_total_flops()
    sync()
    start = time.perf_counter()
    for _ in range(spec["steps"]):
        trainer.train_step()
    sync()
    seconds = (time.perf_counter() - start) / spec["steps"]
    nets = trainer.method.nets  # one G and one D (CycleGAN has two of each: G_AB / D_A are counted)
    g_params = sum(p.numel() for p in nets[trainer.method.generator].parameters())
    d_params = sum(p.numel() for p in nets["D" if "D" in nets else "D_A"].parameters())
    queue.put({"batch": spec["batch"], "ch": spec["ch"], "img_s": spec["batch"] / seconds, "s_iter": seconds, "flops": flops, "textbook_flops": textbook_flops,
               "peak_mb": peak_mb, "warmup_s": warmup_s,
               "g_params": g_params, "d_params": d_params, "attn_res": trainer.model_cfg.attn_res,
               })


def measure(spec: dict) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_run, args=(spec, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["dcgan", "sngan", "sagan", "biggan"])
    parser.add_argument("--res", nargs="+", type=int, default=[32, 64, 128])
    parser.add_argument("--ch", type=int, default=16, help="channel multiplier of the sweep")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3, help="timed iterations per configuration")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", default="off")
    parser.add_argument("--reuse-fake", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the networks (gancli train --compile); "
                        "the warm-up column is then the compile time")
    parser.add_argument("--malloc", nargs="+", choices=["keep", "default"], default=["keep"],
                        help="keep: glibc keeps freed memory (what gancli commands do, gancli.device."
                             "keep_freed_memory); default: glibc's own thresholds. Several: one reference row each")
    parser.add_argument("--adam", nargs="+", choices=["plain", "fused", "foreach"], default=None,
                        help="build every Adam with fused=True or foreach=True (plain: torch's choice, the default); "
                             "several: one reference row each")
    parser.add_argument("--channels-last", action="store_true", help="the networks' weights in NHWC (GPU + --amp)")
    parser.add_argument("--repeat", type=int, default=1, help="measure each configuration this many times")
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--presets", nargs="*", default=None,
                        help="also time these presets' methods (e.g. began ebgan wgan-gp bn ln sngan) at --preset-res")
    parser.add_argument("--preset-res", nargs="+", type=int, default=[28, 32])
    parser.add_argument("--cyclegan", nargs="*", type=int, default=None, metavar="RES",
                        help="also time --preset cyclegan (ResNet G, 6 blocks <= 128 px, 9 at 256; PatchGAN D; "
                             "batch 1) at these resolutions, e.g. 64 128 256")
    parser.add_argument("--scaling", action="store_true",
                        help="only the scaling sweep: sagan and biggan against resolution and batch")
    parser.add_argument("--scaling-ch", type=int, default=32, help="channel multiplier of the scaling sweep")
    parser.add_argument("--scaling-res", nargs="+", type=int, default=[32, 64, 128, 256])
    parser.add_argument("--scaling-batch", nargs="+", type=int, default=[16, 32, 64, 128, 256])
    parser.add_argument("--json", default=None, help="write the scaling figures here [benchmarks/scaling-DEVICE.json]")
    parser.add_argument("--plot", default=None, help="draw the scaling figures into this PNG")
    parser.add_argument("--memory-check", action="store_true",
                        help="only SAGAN-128 (ch 64) with attention at 64x64, batch 32")
    parser.add_argument("--replot", default=None, metavar="JSON",
                        help="only redraw --plot from the figures a --scaling run wrote to JSON")
    args = parser.parse_args()
    if args.replot:
        import json

        with open(args.replot) as f:
            saved = json.load(f)
        plot_scaling(saved["rows"], args.plot, saved["device"], saved["rows"][0]["ch"])
        print(f"wrote {args.plot}")
        return

    import torch

    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else (
        "cpu" if args.device == "auto" else args.device)
    peak = _matmul_gflops(device)
    print(f"device: {device} ({torch.get_num_threads()} threads); float32 matmul: {peak:.0f} GFLOP/s")
    common = dict(device=device, amp=args.amp, reuse_fake=args.reuse_fake, steps=args.steps, compile=args.compile,
                  adam=None if not args.adam or args.adam[0] == "plain" else args.adam[0], malloc=args.malloc[0], channels_last=args.channels_last)
    if args.scaling:
        scaling(args, common, peak, device)
        return
    specs = []
    if args.memory_check:
        specs.append(("SAGAN-128 attn 64x64 b32", dict(model="sagan", res=128, ch=64, batch=32, attn_res=[64], **common)))
    else:
        if not args.no_reference:  # one row per --malloc x --adam variant, interleaved under --repeat
            for malloc in args.malloc:
                for adam in args.adam or [None]:
                    tag = "".join(f", {what}" for what, many in ((f"malloc {malloc}", len(args.malloc) > 1),
                                                                 (f"adam {adam}", len(args.adam or []) > 1)) if many)
                    variant = {**common, "malloc": malloc, "adam": None if adam == "plain" else adam}
                    specs.append((f"reference SAGAN-32 G256/D128{tag}", dict(model="sagan", res=32, ch=64,
                                                                             batch=args.batch, **variant)))
        if not args.no_sweep:
            for model in args.models:
                for res in args.res:
                    specs.append((f"{model}-{res}", dict(model=model, res=res, ch=args.ch, batch=args.batch, **common)))
        for preset in args.presets or []:
            for res in args.preset_res:
                specs.append((f"--preset {preset} {res}px", dict(preset=preset, model=None, res=res, ch=None,
                                                                  batch=None, **common)))
        for res in args.cyclegan or []:
            specs.append((f"--preset cyclegan {res}px", dict(preset="cyclegan", model=None, res=res, ch=None,
                                                             batch=None, **common)))
    print("GFLOP: executed / textbook (the published blocks, upsample-then-conv and conv-then-pool, which\n"
          "gancli folds into fewer FLOPs); % of matmul: hardware (executed) / model (textbook) FLOP utilisation\n")
    print("| config | ch | batch | G/D params | img/s | s/iter | GFLOP/iter | GFLOP/s | % of matmul | peak MiB | warm-up s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    attention_sizes = []
    for label, spec in [pair for _ in range(args.repeat) for pair in specs]:  # interleaved: drift hits all alike
        r = measure(spec)
        gflop, textbook = r["flops"] / 1e9, r["textbook_flops"] / 1e9
        achieved, model_rate = gflop / r["s_iter"], textbook / r["s_iter"]
        print(f"| {label} | {r['ch']} | {r['batch']} | {r['g_params'] / 1e6:.2f}M/{r['d_params'] / 1e6:.2f}M | "
              f"{r['img_s']:.1f} | {r['s_iter']:.2f} | {gflop:.0f} / {textbook:.0f} | {achieved:.0f} / {model_rate:.0f} | "
              f"{100 * achieved / peak:.0f}% / {100 * model_rate / peak:.0f}% | {r['peak_mb']:.0f} | "
              f"{r['warmup_s']:.1f} |", flush=True)
        for side in r["attn_res"]:
            attention_sizes.append((label, side, r["batch"]))
    if attention_sizes and device == "cpu":
        from attention import measure as measure_attention

        print("\nattention block, forward + backward, C = 64:")
        print("| config | map | batch | explicit MiB | fused MiB |")
        print("|---|---|---|---|---|")
        for label, side, batch in attention_sizes:
            _, explicit = measure_attention("explicit", batch, 64, side, True)
            _, fused = measure_attention("fused", batch, 64, side, True)
            print(f"| {label} | {side}x{side} | {batch} | {explicit:.0f} | {fused:.0f} |", flush=True)


def scaling(args, common: dict, peak: float, device: str) -> None:
    """sagan and biggan against resolution (batch 16) and batch (32 px): a table, a JSON, a plot."""
    import json

    rows = []
    print(f"scaling at ch {args.scaling_ch}; peak memory: {'max allocated' if device == 'cuda' else 'resident-set growth'}\n")
    print("| model | res | batch | img/s | s/iter | GFLOP/iter | GFLOP/s | % of matmul | peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    grid = [("res", res, 16) for res in args.scaling_res] + [("batch", 32, b) for b in args.scaling_batch if b != 16]
    for model in ("sagan", "biggan"):
        for sweep, res, batch in grid:
            r = measure(dict(model=model, res=res, ch=args.scaling_ch, batch=batch, **common))
            gflop = r["flops"] / 1e9
            row = {"model": model, "sweep": sweep, "res": res, "batch": batch, "ch": args.scaling_ch,
                   "img_s": r["img_s"], "s_iter": r["s_iter"], "gflop_iter": gflop, "gflop_s": gflop / r["s_iter"],
                   "matmul_gflop_s": peak, "peak_mib": r["peak_mb"], "g_params": r["g_params"], "d_params": r["d_params"]}
            rows.append(row)
            print(f"| {model} | {res} | {batch} | {row['img_s']:.1f} | {row['s_iter']:.2f} | {gflop:.0f} | "
                  f"{row['gflop_s']:.0f} | {100 * row['gflop_s'] / peak:.0f}% | {row['peak_mib']:.0f} |", flush=True)
    out = args.json or os.path.join(os.path.dirname(os.path.abspath(__file__)), f"scaling-{device}.json")
    with open(out, "w") as f:
        json.dump({"device": device, "matmul_gflop_s": peak, "rows": rows}, f, indent=1)
    print(f"\nwrote {out}")
    if args.plot:
        plot_scaling(rows, args.plot, device, args.scaling_ch)
        print(f"wrote {args.plot}")


def plot_scaling(rows: list[dict], path: str, device: str, ch: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5))
    for col, (sweep, xkey, xlabel, fixed) in enumerate((("res", "res", "resolution (px)", "batch 16"),
                                                        ("batch", "batch", "batch size", "32 px"))):
        for model, style in (("sagan", "o-"), ("biggan", "s--")):
            picked = sorted([r for r in rows if r["model"] == model and (r["sweep"] == sweep or
                             (sweep == "batch" and r["res"] == 32 and r["batch"] == 16))], key=lambda r: r[xkey])
            xs = [r[xkey] for r in picked]
            axes[0][col].plot(xs, [r["s_iter"] for r in picked], style, label=model)
            axes[1][col].plot(xs, [r["peak_mib"] / 1024 for r in picked], style, label=model)
        for row, ylabel in ((0, "seconds per iteration"), (1, "peak memory (GiB)")):
            ax = axes[row][col]
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xticks(sorted({r[xkey] for r in rows if r["sweep"] == sweep} | ({16} if sweep == "batch" else set())))
            ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
            ax.get_yaxis().set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.get_yaxis().set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
            ax.get_yaxis().set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_xlabel(f"{xlabel} ({fixed}, ch {ch})")
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
    fig.suptitle(f"gancli training cost on {device}: one iteration (D step + G step)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
