"""Option types the commands share (click parameter types)."""
from __future__ import annotations

import click


class FiniteFloat(click.FloatRange):
    """A float range that also refuses nan and inf (click's FloatRange lets nan through)."""

    def convert(self, value, param, ctx):
        import math

        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class ImageSize(click.ParamType):
    """``96`` or ``96x128`` → (height, width)."""

    name = "size"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        parts = str(value).lower().replace("×", "x").split("x")
        try:
            size = tuple(int(p) for p in parts)
        except ValueError:
            size = ()
        if len(size) == 1:
            size = size * 2
        if len(size) != 2 or min(size) < 1:
            self.fail(f"{value!r} is not SIZE or HxW (e.g. 96 or 96x128)", param, ctx)
        return size
