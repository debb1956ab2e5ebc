"""``python -m bento.wait URL [TIMEOUT]``: wait until URL answers 200 (``make up`` waits for the
service's ``/readyz``: every model loaded). Exit 1 with the last error after TIMEOUT seconds."""

from __future__ import annotations

import sys
import time
import urllib.request


def wait(url: str, timeout: float = 300.0) -> bool:
    deadline, last = time.time() + timeout, "no answer"
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return True
                last = f"HTTP {response.status}"
        except OSError as exc:
            last = str(exc)
        time.sleep(1)
    print(f"{url} not ready after {timeout:.0f} s ({last}); see .logs/service.log", file=sys.stderr)
    return False


if __name__ == "__main__":
    ok = wait(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 300.0)
    print(f"ready: {sys.argv[1]}" if ok else "not ready", file=sys.stdout if ok else sys.stderr)
    sys.exit(0 if ok else 1)
