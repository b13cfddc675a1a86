"""Running the demo: start the local stack, load the policies, play every act, print the final state,
stop everything (or, with `--keep`, print the local URLs and wait for Ctrl-C first).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import yaml
from rich.console import Console

from devstack.demo import inference, promotion, recall, seed
from devstack.demo.harness import Demo
from devstack.emulator.launch import EmulatorAdmin, apply_env, restore_env
from devstack.private_files import write_private
from devstack.stack import REPO_ROOT, LocalStack, StackRecord, default_settings_file, local_stack
from shared.settings import Settings
from shared.storage import StateStore

WORLDS = REPO_ROOT / "devstack" / "worlds"
POLICIES = [REPO_ROOT / "examples" / "seed-policy.yaml", REPO_ROOT / "examples" / "demo" / "policy.yaml"]
SPEED = 10  # the emulator's provisioning delays (seconds) divided by this
DEPLOYMENT_POLL_SECONDS = "1"  # a deployment's follow-up check comes after 1 s instead of 30


def play(demo: Demo, state_dir: Path) -> None:
    """The whole story; a step that raises is a failed check, and the story goes on."""
    demo.step("0. load the seed's tenants, workspaces, registry and rules, and the demo's")
    for policy in POLICIES:
        label = f"`regsync policy load {policy.relative_to(REPO_ROOT)}`"
        demo.check(label, demo.cli("policy", "load", str(policy)) == 0)
    folder = model_folder(state_dir)
    steps: list[Callable[[], object]] = [
        lambda: seed.share_credit_card(demo, folder),
        lambda: seed.fine_tune_and_share_back(demo, folder, seed.share_bert(demo, folder)),
        lambda: seed.keep_private(demo, folder),
        lambda: seed.refuse_outside_regions(demo, folder),
        lambda: seed.environment_via_reconcile(demo),
        lambda: inference.fail_next_version(demo, inference.serve_sentiment(demo), state_dir),
        lambda: promotion.promote(demo),
        lambda: recall.recall_bad_version(demo, state_dir),
    ]
    for step in steps:
        try:
            step()
        except Exception as error:  # report and go on: the final matrix shows what got through
            demo.check(f"the step ran without error ({type(error).__name__}: {error})", False)
    demo.step("where everything is: `regsync status`")
    demo.cli("status")
    demo.step("what RegSync did and refused: `regsync audit --limit 20`")
    demo.cli("audit", "--limit", "20")


def model_folder(state_dir: Path) -> Path:
    folder = state_dir / "model"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "MLmodel").write_text("flavors: {}\n", encoding="utf-8")
    (folder / "model.pkl").write_bytes(b"demo weights")
    return folder


def demo_world(state_dir: Path) -> Path:
    """The seed's world plus the promotion story's stage workspaces (devstack/worlds/demo-stages.yaml)."""
    world = yaml.safe_load((WORLDS / "seed.yaml").read_text(encoding="utf-8"))
    known = {subscription["id"]: subscription for subscription in world["subscriptions"]}
    stages = yaml.safe_load((WORLDS / "demo-stages.yaml").read_text(encoding="utf-8"))
    for subscription in stages["subscriptions"]:
        if subscription["id"] in known:  # one subscription once: the emulator subscribes each to events
            known[subscription["id"]]["resourceGroups"] += subscription["resourceGroups"]
        else:
            world["subscriptions"].append(subscription)
    target = state_dir / "world.yaml"
    target.write_text(yaml.safe_dump(world, sort_keys=False), encoding="utf-8")
    return target


def settings_file(state_dir: Path) -> Path:
    """The app's settings (local.settings.json or the example), with quick deployment follow-ups."""
    source = default_settings_file()
    settings = json.loads(source.read_text(encoding="utf-8")) if source else {"Values": {}}
    settings["Values"]["REGSYNC_DEPLOYMENT_POLL_SECONDS"] = DEPLOYMENT_POLL_SECONDS
    target = state_dir / "local.settings.json"
    write_private(target, json.dumps(settings, indent=2))  # app settings may hold secrets
    return target


def fresh(state_dir: Path) -> None:
    """Start from an empty state directory, unless a stack still runs there (then refuse)."""
    if any(c.is_alive() for c in StackRecord.load(state_dir / "stack.json").components):
        raise SystemExit(
            f"a stack is still running in `{state_dir}`: `python -m devstack down --state-dir {state_dir}`"
        )
    shutil.rmtree(state_dir, ignore_errors=True)
    state_dir.mkdir(parents=True)


def keep_serving(stack: LocalStack, console: Console) -> None:
    """Print where the running stack answers, then wait for Ctrl-C (the caller stops the stack). The API's
    key is not printed: it is REGSYNC_FUNCTION_KEY in stack.env (0600)."""
    console.rule("the stack stays up (--keep): Ctrl-C stops it")
    env_file = stack.state_dir / "stack.env"
    for what, where in [
        ("RegSync API base", stack.host_url),
        ("dashboard", f"{stack.host_url}/api/ui"),
        ("API key", f"REGSYNC_FUNCTION_KEY in {env_file} (header x-functions-key)"),
        ("AzureML emulator", stack.emulator_url),
        ("CLI", f"regsync --env-file {env_file} status"),
    ]:
        console.print(f"  {what:<17} {where}", markup=False, highlight=False)
    try:
        signal.pause()  # until a signal: Ctrl-C
    except KeyboardInterrupt:
        console.print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.demo", description="RegSync's seed story on the local stack."
    )
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".state" / "demo")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="after the acts, keep the stack up and print its URLs until Ctrl-C",
    )
    args = parser.parse_args(argv)
    state_dir: Path = args.state_dir
    if not sys.stdout.isatty():  # a log file or a test: wide enough for one table row per line
        os.environ.setdefault("COLUMNS", "200")
    fresh(state_dir)
    console = Console(highlight=False)
    console.rule("RegSync demo: starting Azurite, the AzureML emulator and the local Functions host")
    world, settings = demo_world(state_dir), settings_file(state_dir)
    with local_stack(world, state_dir, speed=SPEED, settings=settings) as stack:
        previous = apply_env(stack.env)  # the SDK and the settings read the stack's variables
        admin = EmulatorAdmin(stack.emulator_url, stack.env["REQUESTS_CA_BUNDLE"])
        try:
            demo = Demo(stack, console, StateStore.from_settings(Settings()), admin)
            play(demo, state_dir)
        finally:
            admin.close()
            restore_env(previous)
        failed = [label for label, ok in demo.checks if not ok]
        console.print(f"{len(demo.checks) - len(failed)} of {len(demo.checks)} checks passed")
        if args.keep:
            keep_serving(stack, console)
        console.rule("stopping the local stack")
    return 1 if failed else 0
