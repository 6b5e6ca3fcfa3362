"""dvc.yaml deps match the code: every avsc source file a stage imports (transitively, function-level
imports included) is covered by that stage's deps, so editing it makes `dvc status` list the stage."""

from __future__ import annotations

from pathlib import Path

import yaml

from avsc.devtools.stage_deps import missing_deps, write_deps

REPO = Path(__file__).resolve().parents[2]


def test_every_stage_lists_the_source_files_it_imports():
    gaps = missing_deps(REPO / "dvc.yaml", src=REPO / "src")
    assert not gaps, "dvc.yaml deps miss files their stage imports (fix: `make deps`):\n" + "\n".join(
        f"  {stage}: {', '.join(files)}" for stage, files in gaps.items()
    )


def _toy_repo(tmp_path: Path) -> Path:
    pkg = tmp_path / "src" / "avsc"
    (pkg / "features").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "features" / "__init__.py").write_text("")
    (pkg / "features" / "stage.py").write_text("def run():\n    from avsc.helpers import tool\n")
    (pkg / "helpers.py").write_text("tool = 1\n")
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "_run.py").write_text("import avsc\n")
    (tmp_path / "pipelines" / "features.py").write_text("from _run import x\nfrom avsc.features.stage import run\n")
    stages = {
        "stages": {
            "features": {
                "cmd": "python pipelines/features.py",
                "deps": [
                    "pipelines/features.py",
                    "pipelines/_run.py",
                    "src/avsc/features",
                    "src/avsc/__init__.py",
                    "data/manifest.json",
                ],
            }
        }
    }
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(stages))
    return tmp_path


def test_a_function_level_import_without_a_dep_is_caught_and_written(tmp_path):
    root = _toy_repo(tmp_path)
    assert missing_deps(root / "dvc.yaml", src=root / "src") == {"features": ["src/avsc/helpers.py"]}
    assert write_deps(root / "dvc.yaml", src=root / "src") == ["features"]
    assert missing_deps(root / "dvc.yaml", src=root / "src") == {}
    deps = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["features"]["deps"]
    assert deps == [
        "pipelines/features.py",
        "pipelines/_run.py",
        "src/avsc/__init__.py",
        "src/avsc/features/__init__.py",
        "src/avsc/features/stage.py",
        "src/avsc/helpers.py",
        "data/manifest.json",
    ]
    assert write_deps(root / "dvc.yaml", src=root / "src") == []


def test_feature_stages_never_depend_on_training_code():
    """What precise deps buy: editing training or tracking code never makes the feature stages stale."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name in ("features_audio", "features_visual"):
        deps = [str(d) for d in stages[name]["deps"]]
        assert not any(d.startswith(("src/avsc/training", "src/avsc/tracking", "src/avsc/evaluation")) for d in deps)
