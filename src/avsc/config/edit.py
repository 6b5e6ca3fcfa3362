"""Change one value of a params file in place of the user's hand, keeping its comments and layout.

``params.yaml`` is documented by its comments; a plain ``yaml.safe_dump`` would drop them. This
module loads it with ruamel.yaml's round-trip loader, sets a dotted key, checks that the result
still loads into the strict typed settings, and writes it atomically (:mod:`avsc.io`).
"""

from __future__ import annotations

import io
from pathlib import Path

from avsc.config.settings import parse_params
from avsc.errors import ConfigError
from avsc.io import atomic_write_text


def _round_trip():
    from ruamel.yaml import YAML

    yaml_rt = YAML()
    yaml_rt.preserve_quotes = True
    yaml_rt.width = 4096
    # ruamel writes None as an empty value; params files spell it ``null``
    yaml_rt.representer.add_representer(
        type(None), lambda rep, _data: rep.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return yaml_rt


def set_param(path: Path | str, key: str, value: object) -> object:
    """Set the dotted ``key`` (e.g. ``data.root``) of the params file ``path`` to ``value``.

    Every other line, comments included, is kept. The new file must still load into
    :class:`~avsc.config.settings.Params`.

    Returns
    -------
    object
        The previous value (None when the key was absent).

    Raises
    ------
    ConfigError
        The file is missing or not a mapping, a parent of ``key`` is not a mapping, or the new
        value breaks the settings (one line naming the file and the key).
    """
    from ruamel.yaml.error import YAMLError

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found")
    yaml_rt = _round_trip()
    try:
        doc = yaml_rt.load(path.read_text())
    except YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if doc is None:
        doc = yaml_rt.load("{}")
    parts = key.split(".")
    node = doc
    for i, part in enumerate(parts[:-1]):
        if not hasattr(node, "get"):
            raise ConfigError(f"{path}: {'.'.join(parts[:i])} is not a mapping")
        if node.get(part) is None:
            node[part] = {}
        node = node[part]
    if not hasattr(node, "get"):
        raise ConfigError(f"{path}: {'.'.join(parts[:-1])} is not a mapping")
    old = node.get(parts[-1])
    node[parts[-1]] = value
    buffer = io.StringIO()
    yaml_rt.dump(doc, buffer)
    text = buffer.getvalue()
    import yaml

    parse_params(yaml.safe_load(text) or {}, source=path)
    atomic_write_text(path, text)
    return old
