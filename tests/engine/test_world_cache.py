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
from shared.errors import TemporaryError
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


def waiting_behind_a_read(world: World, *, fails: bool) -> tuple[list[int], list[str]]:
    """Three callers ask for the world with `world_ttl` 0; the first one's read holds the lock until
    the other two are waiting for it; then one of them reads for both (and fails if `fails`). Returns
    the reads made and what each caller got."""
    world.engine.world_ttl = 0.0
    reads: list[int] = []
    got: list[str] = []
    reading, release = threading.Event(), threading.Event()
    listed = world.state.list_workspaces

    def list_workspaces(tenant: str | None = None) -> list[Workspace]:
        reads.append(len(reads) + 1)
        if len(reads) == 1:
            reading.set()
            release.wait(DEADLINE_SECONDS)
        elif fails and len(reads) == 2:
            raise TemporaryError("Storage is unavailable")
        return listed(tenant)

    def caller() -> None:
        try:
            world.engine.world()
            got.append("world")
        except TemporaryError as error:
            got.append(str(error))

    world.state.list_workspaces = list_workspaces  # type: ignore[method-assign]
    lock = CountedLock()
    world.engine._world_read = lock  # type: ignore[assignment]
    callers = [threading.Thread(target=caller) for _ in range(3)]
    callers[0].start()
    assert reading.wait(DEADLINE_SECONDS)
    for waiting in callers[1:]:
        waiting.start()
    poll(lambda: lock.entered == 3)
    release.set()
    for each in callers:
        each.join(DEADLINE_SECONDS)
    return reads, got


def test_callers_waiting_for_a_read_share_the_next_one_and_later_callers_read_again(world: World) -> None:
    reads, got = waiting_behind_a_read(world, fails=False)

    assert len(reads) == 2  # the first caller's read, then one read for the two that waited for it
    assert got == ["world"] * 3
    world.engine.world()
    assert len(reads) == 3  # asked after every read began: read again


def test_callers_waiting_for_a_read_that_fails_fail_with_it_and_later_callers_read_again(
    world: World,
) -> None:
    reads, got = waiting_behind_a_read(world, fails=True)

    assert len(reads) == 2  # the second read failed for both callers that waited: not tried twice
    assert got == ["world", "Storage is unavailable", "Storage is unavailable"]
    world.engine.world()
    assert len(reads) == 3


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
