"""DVC stage `features_audio`: per-clip audio features into data/features/audio/."""

from _run import run_stage
from avsc.features.audio_stage import run_audio_stage

if __name__ == "__main__":
    run_stage("features_audio", run_audio_stage)
