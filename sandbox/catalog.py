"""A deterministic demo catalog shared by both sandboxes' seeders.

Both sides of a seeded world must agree on part numbers (IFS PartNo == ShipBob
SKU under the default mapping), so they draw from this one generator.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

_NOUNS = ["Coffee", "Mug", "Filter", "Grinder", "Kettle", "Scale", "Tin", "Spoon", "Press", "Tea"]
_ADJS = ["Light", "Dark", "Steel", "Ceramic", "Glass", "Travel", "Mini", "Pro", "Classic", "Organic"]


@dataclass(frozen=True)
class Part:
    part_no: str
    description: str
    uom: str = "PCS"


def catalog(n_parts: int, seed: int = 1) -> list[Part]:
    rng = random.Random(seed)
    return [
        Part(f"P{i:05d}", f"{rng.choice(_ADJS)} {rng.choice(_NOUNS)}")
        for i in range(1, n_parts + 1)
    ]
