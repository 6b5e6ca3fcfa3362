"""The model systems of the seed papers behind one interface (:class:`avsc.systems.base.System`)."""

from __future__ import annotations

from avsc.errors import ConfigError
from avsc.systems.base import System
from avsc.systems.dualstream import DualStream
from avsc.systems.joint import Joint
from avsc.systems.secrnn import Secrnn

SYSTEMS: dict[str, System] = {s.name: s for s in (Secrnn(), DualStream(), Joint())}


def get_system(name: str) -> System:
    """The system called ``name`` (``model.system``)."""
    try:
        return SYSTEMS[name]
    except KeyError:
        raise ConfigError(f"model.system {name!r}: unknown system (have {', '.join(SYSTEMS)})") from None
