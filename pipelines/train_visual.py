"""DVC stage `train_visual`: SE-CRNN training step 'visual', tracked as one MLflow run (resumable)."""

from functools import partial

from _run import run_stage
from avsc.training.stages import run_training_stage

if __name__ == "__main__":
    run_stage("train_visual", partial(run_training_stage, root_dir=None, step="visual"))
