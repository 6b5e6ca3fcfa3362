"""DVC stage `finetune`: SE-CRNN training step 'finetune', tracked as one MLflow run (resumable)."""

from functools import partial

from _run import run_stage
from avsc.training.stages import run_training_stage

if __name__ == "__main__":
    run_stage("finetune", partial(run_training_stage, root_dir=None, step="finetune"))
