"""The tour's deploy story: 1.0 goes live; 2.0-broken fails its health check and
2.0-slow, 30 % slower within every threshold, fails the soak's canary judge; both are
rolled back to 1.0 by themselves, with the reasons."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redline.config.loader import LoadedConfig
    from redline.demo.tour import Tour

__all__ = ["deploy_steps"]

# (version, the step's name, the exit code that shows the story went right)
_STORY = (
    ("1.0", "deploy: 1.0 goes live", 0),
    ("2.0-broken", "deploy: 2.0-broken rolled back (health check)", 3),
    ("2.0-slow", "deploy: 2.0-slow rolled back (soak statistics)", 3),
)


def deploy_steps(tour: Tour, loaded: LoadedConfig, done: Callable[[], None]) -> None:
    """Deploy three versions of the demo API with `redline deploy`'s pipeline."""
    from redline.demo.tour import DEMO_ENV, _timed
    from redline.deploy.from_config import pipeline_from_config
    from redline.store import open_store, resolve_store_url

    url = resolve_store_url(None, loaded.config(DEMO_ENV).store, loaded.base_dir, environ={})
    with open_store(url) as store:
        pipeline = pipeline_from_config(store, loaded, DEMO_ENV)
        for version, name, expected in _STORY:
            with _timed(tour.steps, name) as step:
                out = pipeline.deploy(version, reason="redline demo")
                step.outcome = "ok" if out.code == expected else "fail"
                back = f", rolled back to {out.rolled_back_to}" if out.rolled_back_to else ""
                why = f": {out.reasons[0]}" if out.reasons and out.code else ""
                step.detail = f"exit {out.code}, {out.state}{back}{why}"
                step.data["deploy"] = out.to_dict()
            done()
