"""The event contract v1: records and codecs for every topic, in one place."""

from online_learning.contract.inputs import *  # noqa: F403
from online_learning.contract.inputs import __all__  # noqa: F401
