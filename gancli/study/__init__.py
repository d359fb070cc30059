"""``gancli compare``: a study of several GAN variants on one dataset, ending in a table.

    study = Study.from_options(["dcgan", "sagan"], common={"dataset": "shapes", "steps": 1600}, seeds=2,
                               out="studies/x")
    run_study(study, jobs=1)           # every variant x hparams x seed: one ordinary run directory
    results = collect(study.out)        # metrics.jsonl of each run -> rows of mean +- std over seeds
    write_report(results, study.out)    # table.md, results.csv/json, curves.png, samples.png, report.html

docs/compare.md has the protocol and a demo study.
"""
from gancli.study.spec import RunPlan, Study, load_study_file, parse_set
from gancli.study.runner import commands_left, plan_states, run_study, train_command_line
from gancli.study.report import StudyResults, collect, write_report

__all__ = ["RunPlan", "Study", "StudyResults", "collect", "load_study_file", "plan_states", "run_study",
           "train_command_line", "write_report", "commands_left", "parse_set"]
