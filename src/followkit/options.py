"""The old import path of followkit.core.settings, kept because the README named it; import from core."""

from followkit.core.settings import *  # noqa: F403
