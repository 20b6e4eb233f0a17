"""The enums test_schemas.py describes and test_validate.py converts to: one of strings, one of integers."""

from __future__ import annotations

import enum


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2
