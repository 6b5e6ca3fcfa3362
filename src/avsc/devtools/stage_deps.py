"""Keep dvc.yaml's code deps equal to what each stage imports.

``python -m avsc.devtools.stage_deps`` checks every stage: the avsc source files its script can
import (transitively, function-level imports included, package ``__init__`` files included) must
be covered by its ``deps``; exit status 1 lists the gaps. ``--write`` rewrites each stage's code
deps (``pipelines/*.py`` and ``src/...`` entries) to exactly that list, keeping every other dep
(data, upstream outputs) and the file's comments. ``make deps`` runs it.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

CODE_PREFIXES = ("pipelines/", "src/")


def module_file(module: str, *, src: Path) -> Path | None:
    """The source file of ``module`` under ``src`` (a package's ``__init__.py``), or None."""
    base = src.joinpath(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def imported_modules(path: Path, *, package: str) -> set[str]:
    """Modules of ``package`` that ``path`` imports anywhere (top level or inside functions)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(n for n in names if n == package or n.startswith(package + "."))
    return found


def source_closure(entry: Path, *, src: Path, package: str = "avsc") -> set[Path]:
    """Every file under ``src`` that running ``entry`` can import (each parent package's ``__init__`` too)."""
    seen: set[Path] = set()
    todo = [entry]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in imported_modules(path, package=package):
            parts = module.split(".")
            for i in range(1, len(parts) + 1):
                found = module_file(".".join(parts[:i]), src=src)
                if found is not None and found not in seen:
                    todo.append(found)
    return {p for p in seen if src in p.parents}


def stage_script(cmd: str, *, root: Path) -> Path:
    """The ``.py`` file a stage command runs."""
    return root / next(part for part in cmd.split() if part.endswith(".py"))


def code_deps(cmd: str, *, root: Path, src: Path) -> list[str]:
    """The stage script, the ``pipelines/_*.py`` helpers it imports, and every avsc file it can import."""
    entry = stage_script(cmd, root=root)
    local = {entry.parent / f"{m}.py" for m in _local_imports(entry) if (entry.parent / f"{m}.py").is_file()}
    files = source_closure(entry, src=src)
    for helper in local:
        files |= source_closure(helper, src=src)
    rel = sorted(p.relative_to(root).as_posix() for p in files | local)
    return [entry.relative_to(root).as_posix(), *rel]


def _local_imports(entry: Path) -> set[str]:
    tree = ast.parse(entry.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return {n for n in names if n.startswith("_")}


def covered(rel: str, deps: list[str]) -> bool:
    """Whether ``rel`` is one of ``deps`` or inside a folder that is."""
    return any(rel == d.rstrip("/") or rel.startswith(d.rstrip("/") + "/") for d in deps)


def _deps_list(stage: dict) -> list[str]:
    return [next(iter(d)) if isinstance(d, dict) else str(d) for d in stage.get("deps", [])]


def missing_deps(dvc_yaml: Path, *, src: Path) -> dict[str, list[str]]:
    """Per stage: code files it imports that its deps do not cover."""
    import yaml

    root = dvc_yaml.parent
    stages = yaml.safe_load(dvc_yaml.read_text())["stages"]
    out = {}
    for name, stage in stages.items():
        deps = _deps_list(stage)
        gaps = [f for f in code_deps(stage["cmd"], root=root, src=src) if not covered(f, deps)]
        if gaps:
            out[name] = gaps
    return out


def write_deps(dvc_yaml: Path, *, src: Path) -> list[str]:
    """Rewrite each stage's code deps to exactly what it imports; returns the stages changed."""
    from ruamel.yaml import YAML

    from avsc.io import atomic_write_text

    yaml_rt = YAML()
    yaml_rt.preserve_quotes = True
    yaml_rt.width = 4096
    yaml_rt.indent(mapping=2, sequence=4, offset=2)
    doc = yaml_rt.load(dvc_yaml.read_text())
    changed = []
    for name, stage in doc["stages"].items():
        old = list(stage.get("deps", []))
        keep = [d for d in old if not (isinstance(d, str) and d.startswith(CODE_PREFIXES))]
        new = code_deps(stage["cmd"], root=dvc_yaml.parent, src=src) + keep
        if [str(d) for d in old] != [str(d) for d in new]:
            stage["deps"] = new
            changed.append(name)
    if changed:
        import io

        buffer = io.StringIO()
        yaml_rt.dump(doc, buffer)
        atomic_write_text(dvc_yaml, buffer.getvalue())
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m avsc.devtools.stage_deps", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dvc-yaml", type=Path, default=Path("dvc.yaml"))
    parser.add_argument("--write", action="store_true", help="rewrite the code deps of every stage")
    args = parser.parse_args(argv)
    args.dvc_yaml = args.dvc_yaml.resolve()
    src = args.dvc_yaml.parent / "src"
    if args.write:
        changed = write_deps(args.dvc_yaml, src=src)
        print(f"{args.dvc_yaml}: code deps rewritten for {', '.join(changed)}" if changed else "deps already exact")
        return 0
    gaps = missing_deps(args.dvc_yaml, src=src)
    for stage, files in gaps.items():
        print(f"{stage}: missing {', '.join(files)}", file=sys.stderr)
    return 1 if gaps else 0


if __name__ == "__main__":
    raise SystemExit(main())
