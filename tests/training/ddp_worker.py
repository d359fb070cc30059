"""Run by ``torch.distributed.run`` in tests: trains a tiny run for a few steps on every rank (gloo,
CPU) and saves each rank's networks to OUT/rank-R.pt, so the test can check the ranks agree."""
import json
import sys

import torch

from gancli.config import TrainConfig
from gancli.training import Trainer


def main() -> None:
    out, extra = sys.argv[1], sys.argv[2:]
    options = {"ch": 4, "batch_size": 4, "data_size": 32, "device": "cpu", "ema": False, "steps": 3}
    for item in extra:
        key, value = item.split("=")
        try:
            options[key] = json.loads(value)  # numbers, true / false
        except json.JSONDecodeError:
            options[key] = value
    trainer = Trainer(TrainConfig.from_flat(options).validate(), show_progress=False)
    for _ in range(3):
        trainer.train_step()
    state = {name: net.state_dict() for name, net in trainer.method.nets.items()}
    state["method_state"] = {k: v for k, v in trainer.method.state_dict().items() if isinstance(v, torch.Tensor)}
    torch.save(state, f"{out}/rank-{trainer.dist.rank}.pt")
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
