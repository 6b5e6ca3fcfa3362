"""What a result was computed with: the source of the code that computed it, and file contents.

A feature store's fingerprint includes :func:`code_digest` of the functions that compute one clip,
so editing them (or any avsc module they import) recomputes the features instead of resuming onto
arrays computed by the old code. The modules are found from the functions themselves (their
``__module__``, its file, and the ``import`` statements in it), never from a list kept by hand.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

PACKAGE = "avsc"


def file_sha256(path: Path | str, *, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's content (read in chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def code_digest(*functions: Callable) -> dict[str, str]:
    """SHA-256 of the source of every avsc module the ``functions`` depend on, by module name.

    The modules defining ``functions`` and, transitively, every ``avsc`` module imported anywhere
    in them (top-level or inside a function).
    """
    return module_digest(f.__module__ for f in functions)


def module_digest(names: Iterable[str]) -> dict[str, str]:
    """SHA-256 of the source of ``names`` and of every avsc module they import, transitively."""
    todo = list(names)
    digests: dict[str, str] = {}
    while todo:
        name = todo.pop()
        if name in digests:
            continue
        source = _source_file(name).read_bytes()
        digests[name] = hashlib.sha256(source).hexdigest()
        todo.extend(avsc_imports(source, module=name))
    return dict(sorted(digests.items()))


def avsc_imports(source: bytes | str, *, module: str) -> set[str]:
    """The avsc modules that ``source`` (the code of ``module``) imports."""
    found: set[str] = set()
    package = module if _is_package(module) else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = (
                importlib.util.resolve_name("." * node.level + (node.module or ""), package)
                if node.level
                else node.module
            )
            if not base:
                continue
            for alias in node.names:  # `from avsc.data import media` imports a module, not a name
                candidate = f"{base}.{alias.name}"
                found.add(candidate if _is_module(candidate) else base)
    return {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}


def _source_file(name: str) -> Path:
    module = sys.modules.get(name) or importlib.import_module(name)
    file = getattr(module, "__file__", None)
    if not file:
        raise ValueError(f"module {name} has no source file")
    return Path(file)


def _is_module(name: str) -> bool:
    if not name.startswith(PACKAGE + "."):
        return False
    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _is_package(name: str) -> bool:
    return Path(_source_file(name)).name == "__init__.py"
