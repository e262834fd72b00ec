"""pytest fixtures for the Azure Custom Vision storage integration.

`Simulation` starts `cvnotify simulate` (the simulated Custom Vision training API, Queue service
and Blob service), gives its endpoints and credentials, drives the service's side (configure a
project, train, export, settle, deliver a raw message) and, when asked, judges what the test's
own code did from the simulation's journal (`cvnotify replay`). The pytest plugin
(`pytest_cvnotify.plugin`) makes fixtures of it.
"""

from .simulation import Finding, Judgement, Simulation, SimulationError

__all__ = ["Finding", "Judgement", "Simulation", "SimulationError"]
