"""The slices of the engine and store the GUI relies on, as structural types.

Widgets depend on these instead of the concrete runtime classes so a panel can be shown
over any engine-shaped object (the real one in the app, the real one in tests too) and the
import graph stays one-way: gui -> runtime, never back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from benchlink.core.events import EventBus
from benchlink.core.status import DeviceSnapshot


class ResultRowLike(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def lis_code(self) -> str: ...

    @property
    def instrument_code(self) -> str: ...


class ResultsSource(Protocol):
    """Blocking reads; the GUI only ever calls these from its query thread."""

    def results_page(self, flt: Any, after: int | None = None, limit: int = 100) -> Sequence[Any]: ...

    def count_results(self, flt: Any) -> int: ...


class GuiEngine(Protocol):
    """What the window needs from the engine: in the app, a gui.engine_host.EngineHost, whose
    async methods run on the engine's own thread and loop."""

    @property
    def bus(self) -> EventBus: ...

    @property
    def store(self) -> Any: ...

    def snapshots(self) -> list[DeviceSnapshot]: ...

    async def enable_device(self, name: str, enabled: bool) -> None: ...

    async def apply_devices(self, devices: tuple[Any, ...]) -> list[str]: ...

    async def reload_mappings(self) -> int: ...
