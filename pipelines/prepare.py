"""DVC stage `prepare`: index data.root (the synthetic sample or a real TAU copy) into data/manifest.json."""

from _run import run_stage
from avsc.data.manifest import prepare

if __name__ == "__main__":
    run_stage("prepare", prepare)
