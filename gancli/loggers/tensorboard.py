"""``--logger tensorboard``: event files in ``RUN/tb/`` (``tensorboard --logdir runs`` shows every run).

Scalars under the tags of ``scalar_tags`` (``train/d_loss``, ``train/lr_G``, ``eval/fid``, ...),
an alarm as text, the sample grids as images (``samples``, and ``samples/real`` once), and the
resolved config as hyperparameters with the final value of every scalar as their metrics (the
HParams tab). On resume the writer starts with TensorBoard's purge marker at the resumed step, so
the points the interrupted run logged after its last checkpoint are dropped, as in metrics.jsonl:
the curves go on without duplicate steps.

Needs the ``tensorboard`` package (``pip install 'gancli[tensorboard]'``); the writer is torch's.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from gancli.errors import GancliError
from gancli.loggers.base import LOGGERS, RunLogger, scalar_tags

TB_FOLDER = "tb"


def hparam_values(config: dict[str, Any]) -> dict[str, Any]:
    """The resolved config as flat hyperparameters: ``model.ch``, ``lr_g``, ...; TensorBoard takes
    numbers, strings and booleans, so lists become comma text and None becomes "none"."""
    flat: dict[str, Any] = {}

    def put(key: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                put(f"{key}.{k}" if key else k, v)
        elif value is None:
            flat[key] = "none"
        elif isinstance(value, (list, tuple)):
            flat[key] = ",".join(map(str, value))
        elif isinstance(value, (bool, int, float, str)):
            flat[key] = value
        else:
            flat[key] = json.dumps(value, default=str)

    put("", config)
    return flat


@LOGGERS.register("tensorboard")
class TensorBoardLogger(RunLogger):
    extra = "tensorboard"

    @classmethod
    def check(cls) -> None:
        if importlib.util.find_spec("tensorboard") is None:
            raise GancliError("--logger tensorboard needs the tensorboard package: pip install 'gancli[tensorboard]' "
                              "(or pip install tensorboard)")

    def __init__(self, run_path: Path, config: dict[str, Any], start_step: int = 0):
        super().__init__(run_path, config, start_step)
        from torch.utils.tensorboard import SummaryWriter

        self.config = config
        self.writer = SummaryWriter(log_dir=str(self.run_path / TB_FOLDER), purge_step=start_step + 1 if start_step else None)
        if start_step == 0:
            self.writer.add_text("config", "```\n" + json.dumps(config, indent=2) + "\n```", 0)

    def metrics(self, record: dict[str, Any]) -> None:
        step = int(record["step"])
        for tag, value in scalar_tags(record).items():
            self.writer.add_scalar(tag, value, step)
        if record.get("alarm"):
            self.writer.add_text("alarm", str(record["alarm"]), step)
        self.writer.flush()

    @classmethod
    def append(cls, run_path: Path, record: dict[str, Any]) -> bool:
        folder = Path(run_path) / TB_FOLDER
        if not folder.is_dir():
            return False
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=str(folder))  # a new event file beside the run's; TensorBoard reads both
        try:
            for tag, value in scalar_tags(record).items():
                writer.add_scalar(tag, value, int(record["step"]))
        finally:
            writer.close()
        return True

    def image(self, tag: str, path: Path, step: int) -> None:
        import numpy as np
        from PIL import Image

        with Image.open(path) as im:
            array = np.asarray(im.convert("RGB"))
        self.writer.add_image(tag, array, step, dataformats="HWC")
        self.writer.flush()

    def close(self, final: dict[str, Any] | None = None) -> None:
        from torch.utils.tensorboard.summary import hparams

        if final:
            # the HParams tab: the config, and as its metrics the last value of every curve (read
            # from the scalars of this run folder under the same tags)
            for summary in hparams(hparam_values(self.config), dict(final)):
                self.writer.file_writer.add_summary(summary)
        self.writer.close()
