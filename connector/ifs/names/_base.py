from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A mapping section: unknown keys are errors, values never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def values(self) -> list[str]:
        """Every configured name in this section (for doctor)."""
        return [value for value in self.model_dump().values() if isinstance(value, str)]
