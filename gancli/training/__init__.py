"""Training: the method-agnostic loop, EMA, the data stream, the run directory and distributed setup."""
from gancli.training.loop import (TrainResult, Trainer, check_names, eval_due, load_resume, missing_eval, prepare,
                                  resume_config, train)

__all__ = ["train", "Trainer", "TrainResult", "check_names", "eval_due", "load_resume", "missing_eval", "prepare",
           "resume_config"]
