"""The registry of families: the one source of every model id batchvid knows."""

from __future__ import annotations

from . import seedance, sora, veo, vidu, wan
from ._base import Family, ModelSpec

__all__ = ["FAMILIES", "MODELS", "Family", "ModelSpec"]

FAMILIES: dict[str, Family] = {
    sora.name: sora,
    veo.name: veo,
    wan.name: wan,
    seedance.name: seedance,
    vidu.name: vidu,
}

MODELS: dict[str, ModelSpec] = {spec.id: spec for family in FAMILIES.values() for spec in family.models}

