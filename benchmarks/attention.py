"""Self-attention block: fused (SDPA, head-split) vs explicit softmax path, forward + backward.

Prints time per call and the peak extra memory of one call, measured in a fresh process
(ru_maxrss) so allocator caches of one path do not hide the other's.

    python benchmarks/attention.py [--batch 8] [--channels 64]
"""
import argparse
import multiprocessing as mp
import resource
import time


def _measure(kind: str, batch: int, channels: int, side: int, backward: bool, queue) -> None:
    import torch

    from gancli.layers import SelfAttention

    torch.manual_seed(0)
    block = SelfAttention(channels)
    x = torch.randn(batch, channels, side, side, requires_grad=backward)

    def call():
        y = block(x, return_attn=True)[0] if kind == "explicit" else block(x)
        if backward:
            y.sum().backward()
        return y

    if not backward:
        torch.set_grad_enabled(False)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    call()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    start = time.perf_counter()
    for _ in range(3):
        call()
    queue.put(((time.perf_counter() - start) / 3, peak_kb / 1024))


def measure(kind: str, batch: int, channels: int, side: int, backward: bool) -> tuple[float, float]:
    """(seconds per call, peak extra MiB) of one fused / explicit call, in a fresh process."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(kind, batch, channels, side, backward, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--channels", type=int, default=64)
    args = parser.parse_args()
    print(f"SelfAttention(C={args.channels}), batch {args.batch}, pooled keys; CPU")
    print("| map | pass | explicit ms | explicit MiB | fused ms | fused MiB |")
    print("|---|---|---|---|---|---|")
    for side in (16, 32, 64):
        for backward in (False, True):
            e_t, e_m = measure("explicit", args.batch, args.channels, side, backward)
            f_t, f_m = measure("fused", args.batch, args.channels, side, backward)
            label = "fwd+bwd" if backward else "fwd"
            print(f"| {side}x{side} | {label} | {e_t * 1e3:.1f} | {e_m:.0f} | {f_t * 1e3:.1f} | {f_m:.0f} |")


if __name__ == "__main__":
    main()
