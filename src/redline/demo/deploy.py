"""The demo project's deploy command: ``python3 -m redline.demo.deploy VERSION``.

The demo system runs one build; its "versions" are sets of knobs (:data:`VERSIONS`),
switched through the API's admin endpoint, so `redline deploy` has something real to
deploy, verify and roll back. It runs in the demo project's directory (as every deploy
command runs in its config's), where it reads the API's URL and the admin token (from the
encrypted secrets file) with redline's own config loader.

Exit codes: 0 switched; 2 an unknown version or the API did not accept it.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["VERSIONS", "main"]

# version -> the knobs that make it: 1.0 answers in ~10 ms; 2.0-broken fails its health
# check; 2.0-slow is ~30 % slower, within every threshold (only statistics catch it).
VERSIONS: dict[str, dict[str, str]] = {
    "1.0": {"latency": "10ms", "health_fail": "off"},
    "1.1": {"latency": "10ms", "health_fail": "off"},
    "2.0-broken": {"latency": "10ms", "health_fail": "on"},
    "2.0-slow": {"latency": "13500us", "health_fail": "off"},
}


def main(argv: list[str] | None = None) -> int:
    import httpx

    from redline.config.loader import load_config
    from redline.demo.tour import DEMO_ENV

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in VERSIONS:
        known = ", ".join(VERSIONS)
        print(f"usage: python3 -m redline.demo.deploy VERSION  (one of: {known})", file=sys.stderr)
        return 2
    version = args[0]
    loaded = load_config(Path("redline.yaml"))
    api = loaded.runtime_config(DEMO_ENV).services["api"].url or ""
    token = loaded.sources(DEMO_ENV, decrypt=True).lookup("DEMO_ADMIN_TOKEN")
    r = httpx.post(
        f"{api}/admin/knobs",
        json={**VERSIONS[version], "version": version},
        headers={"Authorization": f"Bearer {token.value if token else ''}"},
        timeout=10.0,
    )
    if r.status_code != 200:
        print(f"the demo API refused version {version}: HTTP {r.status_code}", file=sys.stderr)
        return 2
    print(f"the demo API now runs {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
