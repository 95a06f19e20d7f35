"""The old import path of followkit.core.records, kept because the README named it; import from core."""

from followkit.core.records import *  # noqa: F403
from followkit.core.records import __all__  # noqa: F401
