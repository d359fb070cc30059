"""What watching for collapse costs a run: the log-step statistics ``div`` (D's features) and
``spread`` (shapes-factor-net's factors) against a training iteration, on the current device.

    python benchmarks/watch_overhead.py [--steps 20] [--repeat 20] [gancli train options as KEY=VALUE ...]

Builds the default run's trainer (or the given options: ``ch=16 batch_size=32``), times ``--steps``
training iterations, then ``--repeat`` calls of the method's watch (``div``) and of the trainer's
whole watch (``div`` + ``spread``), and prints milliseconds per call and the share of a run's time
at the preset's ``log_every``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from gancli.config import TrainConfig  # noqa: E402
from gancli.training import Trainer  # noqa: E402


def _timed(fn, repeat: int) -> float:
    fn()  # warm-up
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - started) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("options", nargs="*", help="KEY=VALUE train options")
    args = parser.parse_args()
    options = {"dataset": "shapes", "device": "cpu"}
    for item in args.options:
        key, value = item.split("=", 1)
        options[key] = type(getattr(TrainConfig(), key))(value) if hasattr(TrainConfig(), key) else value
    trainer = Trainer(TrainConfig.from_options(options), show_progress=False)
    layout = trainer.method.grid_layout(trainer.dataset, trainer.cfg.seed)
    iteration = _timed(trainer.method.train_step, args.steps)
    div = _timed(lambda: trainer._in_eval_mode(lambda nets: trainer.method.watch(nets, layout, 0)), args.repeat)
    both = _timed(lambda: trainer.watch(layout), args.repeat)
    every = trainer.cfg.log_every
    print(f"{torch.get_num_threads()} threads; grid of {len(layout.z)} images; log every {every} iterations")
    print(f"training iteration: {1000 * iteration:.1f} ms")
    print(f"watch, div only:    {1000 * div:.1f} ms ({100 * div / (every * iteration):.2f}% of a run)")
    print(f"watch, div+spread:  {1000 * both:.1f} ms ({100 * both / (every * iteration):.2f}% of a run); "
          f"spread alone {1000 * (both - div):.1f} ms")


if __name__ == "__main__":
    main()
