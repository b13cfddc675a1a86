"""Desired state minus actual state -> the steps to take. Pure: no I/O, no Azure import.

Who calls it: the engine's use cases, after they observed what a plan needs into snapshots; also
`regsync explain`, which shows the very plan the engine would make. In the spirit of gitops-engine's
sync: the diff is a pure function returning values (shared.steps), apply is the engine's job, and
"already there with the same content" counts as done. How a claimed row settles after its AzureML call
is decided here too (`settle_share`, `settle_push`), so apply only carries the result out.

- `world`: the world a plan is made in, retry policies, the builders of outcomes, audit lines, events;
- `share`: a share and its settlement; `fanout`: a fan-out; `push`: one push, its settlement, approval.
"""

from shared.planner.fanout import (
    FanoutSnapshot,
    decide_fanout,
    delivery_refusal,
    plan_fanout,
    worth_reporting,
)
from shared.planner.push import (
    plan_approve,
    plan_push,
    plan_push_before_observing,
    settle_follow,
    settle_push,
)
from shared.planner.share import ShareSnapshot, lost_claim, plan_own_copy, plan_share, settle_share
from shared.planner.world import (
    MAX_AUTOMATIC_ROUNDS,
    Retry,
    World,
    newest_numeric,
    oldest_version,
    read_digest,
    recorded,
)

__all__ = [
    "MAX_AUTOMATIC_ROUNDS",
    "FanoutSnapshot",
    "Retry",
    "ShareSnapshot",
    "World",
    "decide_fanout",
    "delivery_refusal",
    "lost_claim",
    "newest_numeric",
    "oldest_version",
    "plan_approve",
    "plan_fanout",
    "plan_own_copy",
    "plan_push",
    "plan_push_before_observing",
    "plan_share",
    "read_digest",
    "recorded",
    "settle_follow",
    "settle_push",
    "settle_share",
    "worth_reporting",
]
