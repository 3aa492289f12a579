"""wan-mock: a faithful fake of the MuleRouter wan2.6-i2v image-to-video API.

The public surface, grouped:

- building the fake: :func:`create_app`, :class:`Settings`, :func:`load_settings`
- the domain it is made of: :class:`Backend`, :class:`Status`, :class:`Plan`,
  :class:`TaskState`, :class:`Failure`, :class:`GenerationRequest`
- time: :class:`Clock`, :class:`SystemClock`, :class:`ManualClock`
- errors: :class:`MockError`, :class:`InvalidRequest`, :class:`SettingsError`
- driving a running fake: :class:`Control` (the ``/_mock/`` control plane), :class:`MockClock`
"""

from mockserver.__about__ import __version__
from mockserver.control import Control, ControlError
from mockserver.domain.backend import Backend
from mockserver.domain.clock import Clock, ManualClock, MockClock, SystemClock
from mockserver.domain.errors import InvalidRequest, MockError
from mockserver.domain.generation import GenerationRequest
from mockserver.domain.loading import SettingsError, load_settings
from mockserver.domain.settings import Settings
from mockserver.domain.tasks import Failure, Plan, Status, TaskState
from mockserver.server.app import create_app

__all__ = [
    "Backend",
    "Clock",
    "Control",
    "ControlError",
    "Failure",
    "GenerationRequest",
    "InvalidRequest",
    "ManualClock",
    "MockClock",
    "MockError",
    "Plan",
    "Settings",
    "SettingsError",
    "Status",
    "SystemClock",
    "TaskState",
    "__version__",
    "create_app",
    "load_settings",
]
