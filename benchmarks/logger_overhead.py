"""What ``--logger tensorboard`` costs a run: time per metrics record and per sample grid, and the
event file's size, against a training step of the default run.

    python benchmarks/logger_overhead.py [--records 2000] [--grids 20]

A record is a typical training record (10 scalars); a grid is the default run's 548x548 PNG.
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--grids", type=int, default=20)
    args = parser.parse_args()
    from gancli.loggers import LOGGERS

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        grid = run / "grid.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (548, 548, 3), dtype=np.uint8)).save(grid)
        started = time.perf_counter()
        logger = LOGGERS.get("tensorboard")(run, {"train": {"lr_g": 1e-4}, "model": {"ch": 8}})
        opened = time.perf_counter() - started
        record = {"step": 0, "d_loss": 1.2, "g_loss": 0.8, "d_real": 1.1, "d_fake": -0.9, "lr_g": 4e-4,
                  "lr_d": 1.6e-3, "img_s": 96.0, "time": 12.5, "collapse_ab": 1.0, "collapse_ba": 0.9}
        started = time.perf_counter()
        for step in range(1, args.records + 1):
            logger.metrics({**record, "step": step})
        per_record = (time.perf_counter() - started) / args.records
        started = time.perf_counter()
        for step in range(args.grids):
            logger.image("samples", grid, step)
        per_grid = (time.perf_counter() - started) / args.grids
        started = time.perf_counter()
        logger.close({"train/d_loss": 1.0})
        closed = time.perf_counter() - started
        size = sum(p.stat().st_size for p in (run / "tb").iterdir())
    print(f"open {1e3 * opened:.0f} ms (imports torch.utils.tensorboard), close {1e3 * closed:.1f} ms")
    print(f"metrics record (10 scalars, flushed): {1e3 * per_record:.2f} ms; grid image 548x548: {1e3 * per_grid:.1f} ms")
    print(f"event file: {size / 1e6:.2f} MB for {args.records} records and {args.grids} grids")
    print(f"default run (1,600 steps, a record every 25, a grid every 320): "
          f"{(64 * per_record + 6 * per_grid + opened):.2f} s of logging in ~280 s of training")


if __name__ == "__main__":
    main()
