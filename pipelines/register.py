"""DVC stage `register`: a new avsc-fused version in the MLflow Model Registry, alias challenger."""

from _run import run_stage
from avsc.tracking.registry import register

if __name__ == "__main__":
    run_stage("register", register)
