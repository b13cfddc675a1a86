"""What the engine keeps per process. The world (inventory and rules) is read once for callers that
asked while another read waited, and read again for anyone who asks after a read began (with
`world_ttl` 0: every operation sees what was stored when it asked). A recorded owner of a name (never
changed once written) is read once; a name nobody owns yet is read every time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType

from shared.domain import AssetKind, Workspace
from tests.engine.conftest import World

DEADLINE_SECONDS = 10.0


class CountedLock:
    """The engine's world lock, counting who entered it: a caller takes its `asked` time before it
    enters, so once it is counted it has asked."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counting = threading.Lock()
        self.entered = 0

    def __enter__(self) -> CountedLock:
        with self._counting:
            self.entered += 1
        self._lock.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._lock.release()


def poll(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_callers_waiting_for_a_read_share_the_next_one_and_later_callers_read_again(world: World) -> None:
    world.engine.world_ttl = 0.0
    reads: list[int] = []
    reading, release = threading.Event(), threading.Event()
    listed = world.state.list_workspaces

    def list_workspaces(tenant: str | None = None) -> list[Workspace]:
        reads.append(len(reads) + 1)
        if len(reads) == 1:  # the first read holds the lock until the others are waiting for it
            reading.set()
            release.wait(DEADLINE_SECONDS)
        return listed(tenant)

    world.state.list_workspaces = list_workspaces  # type: ignore[method-assign]
    lock = CountedLock()
    world.engine._world_read = lock  # type: ignore[assignment]
    callers = [threading.Thread(target=world.engine.world) for _ in range(3)]
    callers[0].start()
    assert reading.wait(DEADLINE_SECONDS)
    for caller in callers[1:]:
        caller.start()
    poll(lambda: lock.entered == 3)
    release.set()
    for caller in callers:
        caller.join(DEADLINE_SECONDS)

    assert len(reads) == 2  # the first caller's read, then one read for the two that waited for it
    world.engine.world()
    assert len(reads) == 3  # asked after every read began: read again


def test_a_recorded_owner_is_read_once_and_an_unrecorded_one_every_time(world: World) -> None:
    reads: list[str] = []
    owner_of = world.state.owner_of

    def counted(kind: AssetKind, name: str) -> str | None:
        reads.append(name)
        return owner_of(kind, name)

    world.state.owner_of = counted  # type: ignore[method-assign]
    snapshot = world.engine.world()
    for _ in range(2):
        assert not world.engine.observe_owners(snapshot, AssetKind.MODEL, "bert", listed=[]).tenants
    world.state.claim_owner(AssetKind.MODEL, "bert", "contoso")
    for _ in range(2):
        owners = world.engine.observe_owners(snapshot, AssetKind.MODEL, "bert", listed=[])
        assert owners.tenants == {"contoso"}

    assert reads == ["bert", "bert", "bert"]  # nobody yet (twice), then contoso once
