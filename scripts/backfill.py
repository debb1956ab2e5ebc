"""Launch a backfill of a partitioned asset through the running Dagster webserver, as the UI's
"Materialize... > Launch backfill" does (GraphQL ``launchPartitionBackfill``), and optionally
wait for it. The daemon picks the backfill up and launches one run per partition; each run's
steps go to the code location's executor (the Celery workers in the server profile).

    python scripts/backfill.py audio_library                      # every partition
    python scripts/backfill.py audio_library --partitions shard-000,shard-003 --wait
    python scripts/backfill.py audio_library --url http://head:3000 --wait --timeout 3600

``scripts/server.sh library`` runs it after listing the library's shards. Exit status: 0 when
launched (with ``--wait``: when every partition succeeded), 1 when the backfill failed or timed
out, 2 for bad input (unknown asset, not partitioned, no partitions yet, unknown partitions,
webserver not reachable); the message says which.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request

ASSET = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) {
  __typename ... on AssetNode { isPartitioned partitionKeys } ... on Error { message } } }"""
LAUNCH = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on Error { message } } }"""
STATUS = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  __typename ... on PartitionBackfill { status numPartitions runs { runId status tags { key value } } }
  ... on Error { message } } }"""
# backfill statuses that end it, and the ones of those that mean every partition succeeded
DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
SUCCEEDED = {"COMPLETED", "COMPLETED_SUCCESS"}


class BackfillError(Exception):
    """Bad input or an unreachable webserver (exit status 2)."""


def graphql(url: str, query: str, variables: dict, timeout: float = 60) -> dict:
    request = urllib.request.Request(
        f"{url.rstrip('/')}/graphql",
        method="POST",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            body = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        raise BackfillError(
            f"the Dagster webserver at {url} answered {exc.code}: {exc.read()[:500]!r}"
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise BackfillError(
            f"no Dagster webserver at {url} ({exc}); start it (make up-server) or pass --url"
        ) from exc
    if body.get("errors"):
        raise BackfillError(f"the webserver refused the query: {body['errors'][0].get('message')}")
    return body["data"]


def partition_keys(url: str, asset: str) -> list[str]:
    node = graphql(url, ASSET, {"key": {"path": asset.split("/")}})["assetNodeOrError"]
    if node["__typename"] != "AssetNode":
        raise BackfillError(f"no asset {asset!r} in the code location at {url}: {node.get('message', '')}")
    if not node["isPartitioned"]:
        raise BackfillError(f"asset {asset!r} is not partitioned: materialize it instead of a backfill")
    return list(node["partitionKeys"])


def launch(url: str, asset: str, partitions: list[str] | None = None, title: str | None = None) -> str:
    """The new backfill's id; ``partitions`` None: every partition the asset has now."""
    known = partition_keys(url, asset)
    if not known:
        raise BackfillError(
            f"asset {asset!r} has no partitions yet; they are added by the asset that lists "
            "them (for audio_library: materialize audio_library_shards with audio.music_dir set)"
        )
    chosen = known if partitions is None else partitions
    unknown = sorted(set(chosen) - set(known))
    if unknown or not chosen:
        raise BackfillError(f"unknown partitions of {asset!r}: {unknown or 'none given'}; it has {known}")
    params = {
        "assetSelection": [{"path": asset.split("/")}],
        "partitionNames": chosen,
        "title": title or f"{asset}: {len(chosen)} partitions",
    }
    result = graphql(url, LAUNCH, {"params": params})["launchPartitionBackfill"]
    if result["__typename"] != "LaunchBackfillSuccess":
        raise BackfillError(f"the backfill was refused ({result['__typename']}): {result.get('message', '')}")
    return result["backfillId"]


def wait(url: str, backfill_id: str, timeout: float, poll: float = 3.0, log=print) -> dict:
    """The backfill once it ended (``status``, ``runs``); TimeoutError after ``timeout`` seconds."""
    deadline, last = time.monotonic() + timeout, None
    while True:
        state = graphql(url, STATUS, {"id": backfill_id})["partitionBackfillOrError"]
        if state["__typename"] != "PartitionBackfill":
            raise BackfillError(f"no backfill {backfill_id}: {state.get('message', '')}")
        runs = sorted(f"{r['status'].lower()}" for r in state["runs"])
        now = (state["status"], tuple(runs))
        if now != last:
            log(f"backfill {backfill_id}: {state['status'].lower()}, runs: {', '.join(runs) or 'none yet'}")
            last = now
        if state["status"] in DONE:
            return state
        if time.monotonic() > deadline:
            raise TimeoutError(f"backfill {backfill_id} still {state['status']} after {timeout:.0f} s")
        time.sleep(poll)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "asset", help="the partitioned asset's key, e.g. audio_library (a/b for a prefixed key)"
    )
    parser.add_argument(
        "--url", default="http://127.0.0.1:3000", help="the Dagster webserver (default %(default)s)"
    )
    parser.add_argument("--partitions", help="comma-separated partition keys (default: every partition)")
    parser.add_argument(
        "--wait", action="store_true", help="wait until the backfill ends; exit 1 unless it succeeded"
    )
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds --wait waits (default %(default)s)"
    )
    args = parser.parse_args(argv)
    partitions = [p.strip() for p in args.partitions.split(",") if p.strip()] if args.partitions else None
    try:
        backfill_id = launch(args.url, args.asset, partitions)
        print(
            f"launched backfill {backfill_id} of {args.asset}: {args.url.rstrip('/')}/runs/b/{backfill_id}",
            flush=True,
        )
        if not args.wait:
            return 0
        state = wait(args.url, backfill_id, args.timeout, log=lambda m: print(m, flush=True))
    except BackfillError as exc:
        print(f"backfill: {exc}", file=sys.stderr)
        return 2
    except TimeoutError as exc:
        print(f"backfill: {exc}", file=sys.stderr)
        return 1
    failed = [r["runId"] for r in state["runs"] if r["status"] != "SUCCESS"]
    if state["status"] not in SUCCEEDED or failed:
        print(
            f"backfill {backfill_id} ended {state['status']}; runs not succeeded: {failed} "
            f"(their logs: {args.url.rstrip('/')}/runs/<run id>)",
            file=sys.stderr,
        )
        return 1
    print(f"backfill {backfill_id}: {len(state['runs'])} runs succeeded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
