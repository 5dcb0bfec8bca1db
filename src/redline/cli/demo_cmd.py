"""``redline demo``: start the demo system, run every check on it, show what redline finds."""

from __future__ import annotations

from pathlib import Path

import click

from redline.cli._output import EXIT_CHECKS_FAILED, echo, echo_json, json_option, print_table

__all__ = ["demo"]

_MARKS = {"ok": "ok", "fail": "FAIL", "error": "ERROR"}


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("redline-demo"),
    show_default=True,
    help="Where to write the demo project (config, secrets, store, logs).",
)
@click.option("--keep", is_flag=True, help="Leave the demo system running afterwards.")
@click.option("--stop", is_flag=True, help="Stop a demo system left running with --keep.")
@click.option("--db-url", metavar="URL", help="Demo database (default: SQLite in --dir).")
@json_option
def demo(directory: Path, keep: bool, stop: bool, db_url: str | None, as_json: bool) -> int:
    """Start the demo system on free loopback ports, write a redline project for it,
    run every check redline has against it, print what it found, and stop it.

    Exit 0 when every step passed, 1 when one failed, 2 when the demo could not start.
    """
    from redline.demo.runner import DemoSystem

    if stop:
        stopped = DemoSystem.stop_from_state(directory / "system")
        if as_json:
            echo_json({"schema_version": 1, "ok": True, "stopped": stopped})
        else:
            echo(
                f"stopped the demo system in {directory}"
                if stopped
                else f"no demo system is running from {directory}"
            )
        return 0
    from redline.demo.tour import Step, run_tour

    def progress(step: Step) -> None:
        if not as_json:
            echo(f"  {_MARKS.get(step.outcome, step.outcome):>5}  {step.name}", err=True)

    if not as_json:
        echo(f"starting the demo system (API, worker, database) in {directory}/ ...", err=True)
    tour = run_tour(directory, keep=keep, db_url=db_url, on_step=progress)
    if as_json:
        echo_json(tour.to_dict())
        return 0 if tour.ok else EXIT_CHECKS_FAILED
    ep = tour.endpoints
    echo("")
    if ep is not None:
        echo(
            f"demo system   API {ep.api_url}  worker {ep.worker_health_url}"
            f"  (pids {', '.join(map(str, ep.pids))})"
        )
    echo(f"project       {tour.directory / 'redline.yaml'}")
    echo(f"store         {tour.store_url}")
    echo("")
    print_table(
        "What redline found",
        ["step", "result", "time", "detail"],
        [
            [
                s.name,
                _MARKS.get(s.outcome, s.outcome),
                f"{s.ms:.1f} ms" if s.ms is not None else "",
                s.detail,
            ]
            for s in tour.steps
        ],
    )
    if tour.sample_mistake:
        echo("")
        echo(
            "And a config with two typical mistakes"
            " (max_latency: 250, depends_on: [database]) gets:"
        )
        for line in tour.sample_mistake:
            echo(f"  {line}")
    echo("")
    verdict = "every step passed" if tour.ok else "some steps FAILED (see above)"
    echo(f"{verdict}; run {tour.run_id} is in the store.")
    if tour.kept:
        echo(
            f"The demo system is still running. Stop it with: redline demo --stop --dir {directory}"
        )
    else:
        echo(
            "Stopped the demo system. Try: "
            f"redline -c {directory}/redline.yaml config explain API_URL --env demo"
        )
    return 0 if tour.ok else EXIT_CHECKS_FAILED
