"""The recall act (act 10): a new sentiment-tiny version deploys fine and takes workspace4's traffic,
then turns out bad; `regsync recall` takes it back fleet-wide: the endpoint's traffic goes back to the
previous RegSync version, the registry version is tagged and archived, and a pull of it is refused.

Plays after the inference acts (devstack/demo/inference.py), on the same model and endpoint.
"""

from __future__ import annotations

from pathlib import Path

from azure.core.exceptions import HttpResponseError

from devstack.demo.harness import Demo
from devstack.demo.inference import ENDPOINT, MODEL, REQUEST, SETTLED, releases, retrained
from shared.azureml import deployment_name
from shared.domain import AssetKind, AssetRef, LedgerStatus
from shared.planner.recall import TAG_RECALLED


def recall_bad_version(demo: Demo, folder: Path) -> None:
    demo.step(
        "10. a bad sentiment-tiny version is recalled fleet-wide: the endpoint goes back to the previous one"
    )
    endpoint = demo.ml("workspace4").online_endpoints
    serving = {name for name, share in (endpoint.get(ENDPOINT).traffic or {}).items() if share}
    latest = demo.ml_registry().models.get(MODEL, label="latest").version
    version = str(int(latest) + 1)
    ref = AssetRef(kind=AssetKind.MODEL, name=MODEL, version=version)
    demo.register_model("workspace3", MODEL, retrained(folder, version))
    entry = demo.follow(ref, "workspace4", SETTLED)
    demo.check(
        f"{MODEL}:{version} deployed and ready", entry is not None and entry.status is LedgerStatus.SUCCEEDED
    )
    demo.check(f"`invoke` answers from {MODEL}:{version}", answered_by(demo, version))

    code = demo.cli("recall", f"{MODEL}:{version}", "--reason", "its scores drifted in production")

    demo.check(f"`regsync recall {MODEL}:{version}` took it back", code == 0)
    back = demo.poll(
        lambda: {n for n, share in (endpoint.get(ENDPOINT).traffic or {}).items() if share} == serving,
        f"the traffic of {ENDPOINT} to go back to {', '.join(sorted(serving))}",
    )
    demo.check(f"all traffic is back on {', '.join(sorted(serving))} (SDK)", bool(back))
    demo.check("`invoke` answers from the previous version again", answered_by(demo, None, not_=version))
    tags = demo.ml_registry().models.get(MODEL, version).tags or {}
    demo.check(
        f"the registry version is tagged {TAG_RECALLED}: {tags.get(TAG_RECALLED)}", TAG_RECALLED in tags
    )
    pulled = demo.cli("pull", "--workspace", "workspace4", "--name", MODEL, "--version", version)
    demo.check(f"a pull of {MODEL}:{version} is refused: recalled", pulled == 1)
    demo.say(
        f"  {ENDPOINT}/{deployment_name(ref)} stays without traffic; RegSync's next deployment prunes it"
    )


def answered_by(demo: Demo, release: str | None, *, not_: str = "") -> bool:
    """Does the endpoint answer from `release` (or from any release but `not_`), within the deadline?"""

    def probe() -> bool:
        try:
            found = releases(demo.invoke("workspace4", ENDPOINT, REQUEST))
        except HttpResponseError:
            return False
        return found == {release} if release is not None else bool(found) and not_ not in found

    return bool(demo.poll(probe, f"{ENDPOINT} to answer from the right release"))
