"""DVC stage `features_visual`: per-clip visual features into data/features/visual/."""

from _run import run_stage
from avsc.features.visual_stage import run_visual_stage

if __name__ == "__main__":
    run_stage("features_visual", run_visual_stage)
