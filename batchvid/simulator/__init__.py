"""The gateway simulator: the documented API on loopback, with misbehaviour on demand."""

from .app import Simulator, SimulatorThread
from .config import SimConfig

__all__ = ["SimConfig", "Simulator", "SimulatorThread"]
