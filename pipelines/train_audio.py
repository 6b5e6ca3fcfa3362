"""DVC stage `train_audio`: SE-CRNN training step 'audio', tracked as one MLflow run (resumable)."""

from functools import partial

from _run import run_stage
from avsc.training.stages import run_training_stage

if __name__ == "__main__":
    run_stage("train_audio", partial(run_training_stage, root_dir=None, step="audio"))
