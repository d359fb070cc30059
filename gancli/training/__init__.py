"""Training: the method-agnostic loop (loop), the run's state (trainer, state), its setup (names,
data, model), resume policy, signals, EMA, the data stream, the run directory and distributed setup."""
from gancli.training.loop import TrainResult, train
from gancli.training.resume import eval_due, load_resume, missing_eval, resume_config
from gancli.training.setup import check_names, describe_run, prepare
from gancli.training.trainer import Trainer

__all__ = ["train", "Trainer", "TrainResult", "check_names", "describe_run", "eval_due", "load_resume", "missing_eval", "prepare",
           "resume_config"]
