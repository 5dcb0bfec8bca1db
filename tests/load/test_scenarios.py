"""``load.scenarios`` in the config: what the engine gets, and every mistake as a diagnostic."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
import yaml

from redline import ConfigInvalidError, UsageError, load_config
from redline.config.diagnostics import Diagnostic
from redline.config.loader import check_config
from redline.load.scenarios import PRESETS, presets_yaml, scenario_names, scenario_spec
from redline.load.spec import Executor, RequestCheck, RequestSpec, Stage
from tests.helpers import CliResult

Write = Callable[[str, str], Path]

# The issue's example, in a project with one service and two environments.
EXAMPLE = """
project: shop
environments:
  local: {vars: {API_URL: "http://127.0.0.1:8000"}}
  prod:
    vars: {API_URL: "https://api.example.com/v1"}
    load:
      defaults: {timeout: 3s}
      scenarios:
        normal: {rate: 500/s, thresholds: {http_req_failed: ["rate<0.001"]}}
services:
  api:
    url: "${API_URL}"
load:
  defaults: {timeout: 10s, graceful_stop: 5s, max_connections: 1000}
  scenarios:
    normal:
      target: api
      executor: constant-arrival-rate
      rate: 50/s
      duration: 30s
      max_connections: 200
      max_queue: 10000
      timeout: 5s
      requests:
        - {name: list, method: get, path: "/items?page={{randint(1,5)}}", weight: 3,
           headers: {X-Trace: "{{uuid}}"}, query: {q: "{{data.term}}"},
           check: {status: [200, 2xx], json_path: $.ok, equals: true, contains: "x"}}
        - {name: create, method: POST, path: /orders, json: {sku: "{{data.sku}}"}, weight: 1}
      data_file: data/terms.csv
      thresholds:
        http_req_duration: ["p(99)<200", "p(95)<100"]
        http_req_failed: "rate<0.01"
        "http_req_duration{name:list}": ["p(99)<150"]
    checkout:
      target: http://127.0.0.1:9000
      executor: per-vu-iterations
      vus: 10
      iterations: 100
      think_time: 100ms
      flow: mypkg.flows:checkout
"""


@pytest.fixture
def example(write: Write) -> Path:
    write("data/terms.csv", "term,sku\nmug,A1\n")
    return write("redline.yaml", EXAMPLE)


def where(diags: list[Diagnostic]) -> list[tuple[str, int, int]]:
    return [(d.rule, d.line, d.col) for d in diags]


def check(write: Write, text: str, environ: dict[str, str] | None = None) -> list[Diagnostic]:
    _, diags = check_config(write("redline.yaml", text), environ=environ or {})
    for d in diags:  # every problem says where and how to fix it
        assert d.file and d.line > 0 and d.col > 0 and d.hint, d
    return diags


# -- what the engine gets -----------------------------------------------------------------


def test_the_issue_example_becomes_a_load_spec(example: Path) -> None:
    loaded = load_config(example, environ={})
    assert scenario_names(loaded) == ["normal", "checkout"]
    spec = scenario_spec(loaded, "normal", "local")
    assert spec.name == "normal" and spec.target == "http://127.0.0.1:8000"
    assert spec.executor == Executor(
        "constant-arrival-rate", duration=30.0, rate=50.0, max_connections=200, max_queue=10_000
    )
    assert (spec.timeout, spec.graceful_stop) == (5.0, 5.0)
    assert spec.data_file == str(example.parent.resolve() / "data" / "terms.csv")
    assert spec.requests == (
        RequestSpec(
            path="/items?page={{randint(1,5)}}",
            method="GET",
            name="list",
            headers={"X-Trace": "{{uuid}}"},
            query={"q": "{{data.term}}"},
            weight=3.0,
            check=RequestCheck(
                status=tuple(range(200, 300)), contains="x", json_path="$.ok", equals=True
            ),
        ),
        RequestSpec(path="/orders", method="POST", name="create", json={"sku": "{{data.sku}}"}),
    )
    assert spec.thresholds == {
        "http_req_duration": ("p(99)<200", "p(95)<100"),
        "http_req_failed": ("rate<0.01",),
        "http_req_duration{name:list}": ("p(99)<150",),
    }
    assert spec.flow is None and spec.tags == {}
    assert json.dumps(spec.to_dict())  # plain data, for the stored run


def test_a_flow_scenario_and_a_url_target(example: Path) -> None:
    spec = scenario_spec(load_config(example, environ={}), "checkout", "local")
    assert spec.target == "http://127.0.0.1:9000"
    assert spec.flow == "mypkg.flows:checkout" and spec.requests == ()
    ex = spec.executor
    assert (ex.kind, ex.vus, ex.iterations, ex.think_time) == ("per-vu-iterations", 10, 100, 0.1)
    assert ex.duration == 600.0  # no duration: k6's cap of 10 minutes
    assert (spec.timeout, spec.graceful_stop, ex.max_connections) == (10.0, 5.0, 1000)


def test_an_environment_overrides_scenarios_and_defaults(example: Path) -> None:
    loaded = load_config(example, environ={})
    prod = scenario_spec(loaded, "normal", "prod")
    assert prod.target == "https://api.example.com/v1"
    assert prod.executor.rate == 500.0 and prod.executor.duration == 30.0
    assert prod.thresholds["http_req_failed"] == ("rate<0.001",)
    assert prod.thresholds["http_req_duration"] == ("p(99)<200", "p(95)<100")
    assert prod.timeout == 5.0  # the scenario's own wins over the environment's default
    assert scenario_spec(loaded, "checkout", "prod").timeout == 3.0
    assert scenario_spec(loaded, "normal", "local").executor.rate == 50.0


@pytest.mark.parametrize(
    ("body", "executor"),
    [
        (
            "executor: ramping-arrival-rate\n    start_rate: 0\n    stages: "
            "[{duration: 10s, target: 100/s}, {duration: 1m, target: 6000/m}, "
            "{duration: 5s, target: 0}]",
            Executor(
                "ramping-arrival-rate",
                stages=(Stage(10.0, 100.0), Stage(60.0, 100.0), Stage(5.0, 0.0)),
            ),
        ),
        (
            "executor: ramping-vus\n    start_vus: 2\n    think_time: 1s\n    stages: "
            "[{duration: 10s, target: 20}, {duration: 20s, target: 0}]",
            Executor(
                "ramping-vus",
                start_vus=2,
                think_time=1.0,
                stages=(Stage(10.0, 20.0), Stage(20.0, 0.0)),
            ),
        ),
        (
            "executor: constant-vus\n    vus: 8\n    duration: 1m",
            Executor("constant-vus", vus=8, duration=60.0),
        ),
        (
            "executor: per-vu-iterations\n    vus: 3\n    duration: 30s",
            Executor("per-vu-iterations", vus=3, duration=30.0),
        ),
    ],
)
def test_every_executor(write: Write, body: str, executor: Executor) -> None:
    path = write(
        "redline.yaml",
        f"project: p\nload:\n  scenarios:\n   s:\n    target: http://h\n    requests: "
        f"[{{path: /}}]\n    {body}\n",
    )
    assert scenario_spec(load_config(path, environ={}), "s", None).executor == executor


def test_variables_expand_inside_scenarios(write: Write) -> None:
    path = write(
        "redline.yaml",
        """
        project: p
        environments:
          ci: {vars: {RATE: 5/s, HOST: "http://ci:8080"}}
        load:
          scenarios:
            smoke:
              target: "${HOST}"
              executor: constant-arrival-rate
              rate: "${RATE}"
              duration: "${DURATION:-2s}"
              requests: [{path: /health, headers: {X-Run: "${RUN_ID:-local}"}}]
        """,
    )
    spec = scenario_spec(load_config(path, environ={"RUN_ID": "42"}), "smoke", "ci")
    assert spec.target == "http://ci:8080"
    assert (spec.executor.rate, spec.executor.duration) == (5.0, 2.0)
    assert spec.requests[0].headers == {"X-Run": "42"}


def test_a_secret_is_decrypted_only_for_the_run(write: Write) -> None:
    from redline.secrets import SecretsFile, generate_key

    path = write(
        "redline.yaml",
        """
        project: p
        environments: {prod: {}}
        variables:
          TOKEN: {secret: true, required: true}
        load:
          scenarios:
            admin:
              target: http://h
              executor: constant-vus
              vus: 1
              duration: 1s
              requests: [{path: /admin, headers: {Authorization: "Bearer ${TOKEN}"}}]
        """,
    )
    key = generate_key()
    secrets = SecretsFile.new(path.parent / "redline.secrets.yaml", key=key)
    secrets.set("prod", "TOKEN", "s3cret-value")
    secrets.save()
    loaded = load_config(path, environ={"REDLINE_SECRETS_KEY": key.decode()})
    assert "s3cret" not in str(loaded.config("prod").load.scenarios["admin"])
    spec = scenario_spec(loaded, "admin", "prod")
    assert spec.requests[0].headers == {"Authorization": "Bearer s3cret-value"}


def test_a_config_without_load_has_no_scenarios(shop: Path) -> None:
    loaded = load_config(shop, environ={})
    assert scenario_names(loaded) == []
    with pytest.raises(UsageError) as caught:
        scenario_spec(loaded, "normal", "local")
    assert "declares no scenarios" in caught.value.message
    assert "load: scenarios:" in (caught.value.hint or "")


def test_an_unknown_scenario_names_the_closest_and_the_rest(example: Path) -> None:
    loaded = load_config(example, environ={})
    with pytest.raises(UsageError) as caught:
        scenario_spec(loaded, "nromal", "local")
    assert caught.value.exit_code == 2
    assert "there is no scenario 'nromal'" in caught.value.message
    assert caught.value.hint == "did you mean 'normal'? scenarios: normal, checkout"
    with pytest.raises(UsageError) as caught:
        scenario_spec(loaded, "zzz", "local")
    assert caught.value.hint == "scenarios: normal, checkout"


def test_a_broken_config_raises_its_diagnostics(example: Path) -> None:
    loaded = load_config(example, environ={})
    loaded.raw["load"]["scenarios"]["normal"]["rate"] = "fast"
    loaded._models.clear()
    with pytest.raises(ConfigInvalidError) as caught:
        scenario_spec(loaded, "normal", "local")
    assert caught.value.diagnostics[0].rule == "bad-duration"


# -- mistakes, each at its place with a hint ------------------------------------------------

HEAD = "project: p\nservices:\n  api: {url: http://api}\n  db: {}\nload:\n  scenarios:\n    s:\n"
REQ = "      requests: [{path: /}]\n"
CAR = "      target: api\n      executor: constant-arrival-rate\n"


@pytest.mark.parametrize(
    ("body", "expected", "text"),
    [
        # unknown keys, with did-you-mean, at every level
        (CAR + "      rate: 1/s\n      duraton: 1s\n" + REQ, ("unknown-key", 11, 7), "duration"),
        (
            CAR + "      rate: 1/s\n      duration: 1s\n      requests: [{pth: /}]\n",
            ("unknown-key", 12, 19),
            "path",
        ),
        # executor names and what each needs
        (
            "      target: api\n      executor: constant-arival-rate\n" + REQ,
            ("invalid-value", 9, 17),
            "constant-arrival-rate",
        ),
        (CAR + "      duration: 1s\n" + REQ, ("missing-key", 9, 17), "rate: 50/s"),
        (
            "      target: api\n      executor: ramping-vus\n" + REQ,
            ("missing-key", 9, 17),
            "target: 20",
        ),
        (
            "      target: api\n      executor: constant-vus\n      duration: 1s\n" + REQ,
            ("missing-key", 9, 17),
            "vus: 10",
        ),
        (
            CAR + "      rate: 1/s\n      duration: 1s\n      vus: 5\n" + REQ,
            ("executor-option", 12, 7),
            "constant-vus",
        ),
        (
            "      target: api\n      executor: constant-vus\n      vus: 1\n      duration: 1s\n"
            "      max_queue: 5\n" + REQ,
            ("executor-option", 12, 7),
            "arrival-rate",
        ),
        # stage targets: a rate for arrival-rate executors, VUs for ramping-vus
        (
            "      target: api\n      executor: ramping-arrival-rate\n"
            "      stages: [{duration: 1s, target: 100}]\n" + REQ,
            ("invalid-value", 10, 39),
            "100/s",
        ),
        (
            "      target: api\n      executor: ramping-vus\n"
            "      stages: [{duration: 1s, target: 10/s}]\n" + REQ,
            ("invalid-value", 10, 39),
            "ramping-arrival-rate",
        ),
        (
            "      target: api\n      executor: ramping-vus\n"
            "      stages: [{duration: 0s, target: 10}]\n" + REQ,
            ("invalid-value", 10, 15),
            "duration",
        ),
        (
            "      target: api\n      executor: ramping-vus\n      stages: []\n" + REQ,
            ("invalid-value", 10, 15),
            "stages:",
        ),
        (
            "      target: api\n      executor: ramping-arrival-rate\n"
            "      stages: [{duration: 1s, target: lots}]\n" + REQ,
            ("bad-duration", 10, 39),
            "200/s",
        ),
        # bad units
        (CAR + "      rate: 50\n      duration: 1s\n" + REQ, ("bad-duration", 10, 13), "200/s"),
        (CAR + "      rate: 1/s\n      duration: 30\n" + REQ, ("bad-duration", 11, 17), "30s"),
        # requests or flow, exactly one
        (CAR + "      rate: 1/s\n      duration: 1s\n", ("requests-or-flow", 7, 5), "flow:"),
        (
            CAR + "      rate: 1/s\n      duration: 1s\n      requests: []\n",
            ("requests-or-flow", 12, 17),
            "path: /health",
        ),
        (
            CAR + "      rate: 1/s\n      duration: 1s\n      flow: m:f\n" + REQ,
            ("requests-or-flow", 12, 7),
            "flow:",
        ),
        (
            CAR + "      rate: 1/s\n      duration: 1s\n      flow: mod.flows\n",
            ("invalid-value", 12, 13),
            "docs",
        ),
        # requests themselves
        (
            CAR + "      rate: 1/s\n      duration: 1s\n      requests: [{path: items}]\n",
            ("invalid-value", 12, 25),
            "docs",
        ),
        (
            CAR + "      rate: 1/s\n      duration: 1s\n"
            "      requests: [{path: /, json: {a: 1}, body: x}]\n",
            ("invalid-value", 12, 18),
            "docs",
        ),
        (
            CAR + "      rate: 1/s\n      duration: 1s\n"
            "      requests: [{path: /a}, {path: /a, method: get}]\n",
            ("duplicate-name", 12, 30),
            "name:",
        ),
        (
            CAR + "      rate: 1/s\n      duration: 1s\n"
            "      requests: [{path: /, check: {equals: 1}}]\n",
            ("invalid-value", 12, 35),
            "docs",
        ),
        (
            CAR + "      rate: 1/s\n      duration: 1s\n"
            "      requests: [{path: /, check: {status: ok}}]\n",
            ("invalid-value", 12, 44),
            "2xx",
        ),
        # where iterations go
        (
            "      target: apii\n      executor: constant-vus\n      vus: 1\n"
            "      duration: 1s\n" + REQ,
            ("unknown-service", 8, 15),
            "did you mean 'api'?",
        ),
        (
            "      target: db\n      executor: constant-vus\n      vus: 1\n"
            "      duration: 1s\n" + REQ,
            ("invalid-value", 8, 15),
            "url:",
        ),
        (
            "      target: ftp://h\n      executor: constant-vus\n      vus: 1\n"
            "      duration: 1s\n" + REQ,
            ("invalid-value", 8, 15),
            "http://",
        ),
        (
            CAR + "      rate: 1/s\n      duration: 1s\n      data_file: rows.csv\n" + REQ,
            ("missing-file", 12, 18),
            "relative to the config file",
        ),
        # thresholds, at the key or the expression
        (
            CAR + "      rate: 1/s\n      duration: 1s\n" + REQ + "      thresholds:\n"
            "        http_req_duraton: [p(99)<1]\n",
            ("bad-threshold", 14, 9),
            "did you mean 'http_req_duration'?",
        ),
        (
            CAR + "      rate: 1/s\n      duration: 1s\n" + REQ + "      thresholds:\n"
            '        http_req_failed: ["rate<0.01", "p(99)<1"]\n',
            ("bad-threshold", 14, 40),
            "rate<0.01",
        ),
        (
            CAR + "      rate: 1/s\n      duration: 1s\n" + REQ + "      thresholds:\n"
            "        http_req_duration: p99<1\n",
            ("bad-threshold", 14, 28),
            "p(99)",
        ),
        (
            CAR + "      rate: 1/s\n      duration: 1s\n"
            "      requests: [{name: list, path: /}]\n"
            "      thresholds:\n"
            '        "http_req_duration{name:lst}": [p(99)<1]\n',
            ("bad-threshold", 14, 9),
            "did you mean 'list'?",
        ),
    ],
)
def test_each_mistake_is_one_diagnostic(
    write: Write, body: str, expected: tuple[str, int, int], text: str
) -> None:
    diags = check(write, HEAD + body)
    assert where(diags) == [expected], [d.one_line() for d in diags]
    assert text in diags[0].hint or text in diags[0].message


def test_many_mistakes_are_reported_at_once(write: Write) -> None:
    diags = check(
        write,
        HEAD
        + "      target: apii\n      executor: constant-vus\n      rate: 1/s\n"
        + "    t:\n      target: api\n",
    )
    assert sorted(d.rule for d in diags) == [
        "executor-option",
        "missing-key",
        "missing-key",
        "missing-key",
        "requests-or-flow",
        "requests-or-flow",
        "unknown-service",
    ]


def test_overrides_point_at_the_environment(write: Write) -> None:
    diags = check(
        write,
        """\
project: p
environments:
  prod:
    load:
      scenarios:
        smoke: {rat: 5/s}
        smoek: {rate: 5/s}
load:
  scenarios:
    smoke: {target: http://h, executor: constant-arrival-rate, rate: 1/s, duration: 1s,
            requests: [{path: /}]}
""",
    )
    assert where(diags) == [("unknown-key", 6, 17), ("unknown-scenario", 7, 9)]
    assert diags[0].path == "environments.prod.load.scenarios.smoke.rat"
    assert diags[0].hint == "did you mean 'rate'?"
    assert diags[1].hint == "did you mean 'smoke'?"


def test_a_variable_that_is_not_a_rate_is_reported_where_it_is_used(write: Write) -> None:
    diags = check(
        write,
        HEAD + CAR + '      rate: "${RATE}"\n      duration: 1s\n' + REQ,
        environ={"RATE": "lots"},
    )
    assert where(diags) == [("bad-duration", 10, 13)]
    assert "expected" not in diags[0].message and "'lots' is not a rate" in diags[0].message


def test_config_check_exits_5_on_a_bad_scenario(
    cli: Callable[..., CliResult], write: Write
) -> None:
    write("redline.yaml", HEAD + CAR + "      duration: 1s\n" + REQ)
    result = cli("config", "check")
    assert result.code == 5
    assert "RL106 [missing-key] at load.scenarios.s.rate" in result.err


# -- editors and presets ------------------------------------------------------------------


def test_the_json_schema_takes_scenarios(cli: Callable[..., CliResult]) -> None:
    result = cli("config", "schema")
    assert result.code == 0
    validator = jsonschema.Draft202012Validator(json.loads(result.out))
    assert list(validator.iter_errors(yaml.safe_load(EXAMPLE))) == []
    accepted = yaml.safe_load(
        "project: p\nload:\n  scenarios:\n    s: {target: t, executor: ramping-vus, "
        "stages: [{duration: 1s, target: 5}, {duration: 1s, target: 0}], "
        "start_vus: '${VUS}', requests: [{path: /}]}\n"
    )
    assert list(validator.iter_errors(accepted)) == []
    rejected = yaml.safe_load(
        "project: p\nload:\n  scenarios:\n    s: {target: t, executor: fast, rate: 5}\n"
    )
    assert len(list(validator.iter_errors(rejected))) >= 2


def test_the_presets_are_valid_modest_and_quick(write: Write) -> None:
    write(".env.demo", "DEMO_WORKER_HEALTH=http://127.0.0.1:2/health\n")
    from redline.demo.tour import demo_config

    text, _ = demo_config("http://127.0.0.1:1", "http://127.0.0.1:2/health")
    assert presets_yaml() in text
    path = write("redline.yaml", text)
    write("catalog.csv", "id\n1\n")  # the regression story's scenario reads item ids
    loaded = load_config(path, environ={})
    assert scenario_names(loaded) == [*PRESETS, "catalog"]
    assert list(PRESETS) == ["normal", "peak", "stress"]
    normal, peak, stress = (scenario_spec(loaded, n, "demo") for n in PRESETS)
    assert {s.target for s in (normal, peak, stress)} == {"http://127.0.0.1:1"}
    assert (normal.executor.kind, normal.executor.rate, normal.executor.duration) == (
        "constant-arrival-rate",
        20.0,
        5.0,
    )
    assert peak.executor.kind == stress.executor.kind == "ramping-arrival-rate"
    assert max(s.target for s in peak.executor.stages) == 60.0
    assert max(s.target for s in stress.executor.stages) == 300.0
    assert normal.executor.total_duration <= peak.executor.total_duration <= 20.0
    assert stress.executor.total_duration <= 20.0
    for spec in (normal, peak, stress):
        assert [r.label for r in spec.requests] == ["items", "version"]
        assert spec.requests[0].check == RequestCheck((200,), None, "$.limit", 5)
        assert spec.thresholds


def test_the_presets_check_what_the_demo_api_answers(tmp_path: Path) -> None:
    """Each preset request, sent to the real demo system, passes its own check."""
    import httpx

    from redline.demo import DemoSystem, Knobs

    write_to = tmp_path / "redline.yaml"
    system = DemoSystem(tmp_path / "system", knobs=Knobs().to_dict())
    endpoints = system.start()
    try:
        from redline.demo.tour import demo_config

        write_to.write_text(demo_config(endpoints.api_url, endpoints.worker_health_url)[0])
        (tmp_path / ".env.demo").write_text(f"DEMO_WORKER_HEALTH={endpoints.worker_health_url}\n")
        (tmp_path / "catalog.csv").write_text("id\n1\n")
        spec = scenario_spec(load_config(write_to, environ={}), "normal", "demo")
        with httpx.Client(base_url=spec.target, timeout=10) as client:
            for request in spec.requests:
                check = request.check
                assert check is not None
                r = client.request(request.method, request.path, headers={"X-Request-Id": "x"})
                assert r.status_code in check.status, request.label
                if check.json_path is not None:
                    assert r.json()[check.json_path.removeprefix("$.")] == check.equals
                if check.contains is not None:
                    assert check.contains in r.text
    finally:
        system.stop()


def test_the_starter_config_shows_a_scenario_that_works_uncommented(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    assert cli("init").code == 0
    text = (tmp_path / "redline.yaml").read_text()
    example = text[text.index("# load:") :]
    uncommented = "".join(line[2:] + "\n" for line in example.splitlines())
    (tmp_path / "redline.yaml").write_text(text + uncommented)
    assert cli("config", "check").code == 0
    loaded = load_config(tmp_path / "redline.yaml", environ={})
    assert scenario_spec(loaded, "normal", "local").target == "http://127.0.0.1:8000"
