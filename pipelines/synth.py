"""DVC stage `synth`: the embedded synthetic sample in the TAU layout, into data/tau-synthetic/."""

from _run import run_stage
from avsc.data.synthetic.stage import run_synth_stage

if __name__ == "__main__":
    run_stage("synth", run_synth_stage)
