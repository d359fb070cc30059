"""Self-attention block: fused (SDPA, q/k padded to one head) vs explicit softmax path, forward + backward.

Prints time per call and the peak extra memory of one call: a thread samples the process's
current RSS (/proc/self/statm) every 0.2 ms during the first call in a fresh process, so allocator
caches of one path do not hide the other's. Linux only.

    python benchmarks/attention.py [--batch 8] [--channels 64]
"""
import argparse
import multiprocessing as mp
import os
import threading
import time


class RssPeak:
    """Peak growth of the resident set size (MiB) while the ``with`` block runs (Linux)."""

    def __init__(self):
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._stop = threading.Event()

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self._page

    def _watch(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.0002)

    def __enter__(self):
        self.base = self.peak = self._rss()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())
        self.mib = (self.peak - self.base) / 2**20
        return False


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
    with RssPeak() as rss:
        call()
    start = time.perf_counter()
    for _ in range(3):
        call()
    queue.put(((time.perf_counter() - start) / 3, rss.mib))


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
