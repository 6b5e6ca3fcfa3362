"""DVC stage `validate`: great-expectations suite on the dataset; fails the pipeline when invalid."""

from _run import run_stage
from avsc.data.validation.entry import main_for_stage

if __name__ == "__main__":
    run_stage("validate", main_for_stage)
