"""The base of every settings section, and the names shared by all of them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

#: The model systems of the three seed papers (``model.system``): the SE-CRNN of Naranjo-Alcazar et
#: al., the dual-stream self-attention network of Hou et al., the joint-optimization system of Chen et al.
SystemName = Literal["secrnn", "dualstream", "joint"]
SYSTEMS: tuple[str, ...] = ("secrnn", "dualstream", "joint")


class Strict(BaseModel):
    """Base for every settings section: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)
