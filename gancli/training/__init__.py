"""Training: the loop, EMA, the data stream, the run directory and distributed setup."""
from gancli.training.loop import TrainResult, Trainer, load_resume, resume_config, train

__all__ = ["train", "Trainer", "TrainResult", "load_resume", "resume_config"]
