"""The typed shape of ``redline.yaml``.

Models are frozen and forbid unknown keys, so a typo is an error with a
"did you mean", never a silently ignored setting. Durations, rates and sizes
are written as people write them (``250ms``, ``200/s``, ``10MB``) and held as
seconds, events per second and bytes.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from redline.units import (
    format_duration,
    parse_duration,
    parse_fraction,
    parse_rate,
    parse_size,
)

__all__ = [
    "PROTOCOLS",
    "Check",
    "CommandCheck",
    "Config",
    "DnsCheck",
    "Duration",
    "Environment",
    "Fraction",
    "HealthSettings",
    "HttpCheck",
    "Load",
    "LoadCheck",
    "LoadDefaults",
    "LoadRequest",
    "LoadStage",
    "PostgresCheck",
    "Rate",
    "RedisCheck",
    "RegressionMetric",
    "Regressions",
    "Scenario",
    "SecretsConfig",
    "Service",
    "Size",
    "TcpCheck",
    "Variable",
    "VariableType",
    "Waiver",
]


def _unit(parse: Any, kind: str) -> Any:
    def validate(value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and kind == "size":
            return value
        try:
            return parse(value)
        except ValueError as exc:
            raise PydanticCustomError(f"bad_{kind}", str(exc)) from None

    return validate


# What parse_duration reads: parts such as 1h30m, or a bare 0.
_DURATION_PATTERN = r"^\s*(0(\.0)?|(\d+(\.\d+)?(us|µs|ms|s|m|h|d|w))+)\s*$"
Duration = Annotated[
    float,
    BeforeValidator(_unit(parse_duration, "duration")),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": _DURATION_PATTERN},
                {"const": 0},
            ],
            "examples": ["250ms", "30s", "5m", "28d"],
        }
    ),
    Field(ge=0),
]
# What parse_rate reads; a zero period (5/0s) is left to it to refuse.
_RATE_PATTERN = r"^\s*\d+(\.\d+)?\s*/\s*\d*\s*(ms|sec|second|s|min|minute|m|hour|h|d)\s*$"
Rate = Annotated[
    float,
    BeforeValidator(_unit(parse_rate, "rate")),
    WithJsonSchema({"type": "string", "pattern": _RATE_PATTERN, "examples": ["200/s", "12000/m"]}),
    Field(gt=0),
]
Fraction = Annotated[
    float,
    BeforeValidator(_unit(parse_fraction, "fraction")),
    WithJsonSchema({"type": ["string", "number"], "examples": ["5%", 0.05]}),
]
Size = Annotated[
    int,
    BeforeValidator(_unit(parse_size, "size")),
    WithJsonSchema({"type": ["string", "integer"], "examples": ["10MB", "64KiB", 512]}),
    Field(ge=0),
]


def _scalar_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


# A value written as YAML scalar (4, true, "x") and held as the text a shell would see.
ScalarText = Annotated[
    str,
    BeforeValidator(_scalar_text),
    WithJsonSchema({"type": ["string", "number", "boolean"]}),
]

VariableType = Literal["str", "int", "float", "bool", "url", "dsn", "enum", "duration", "path"]
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


_VARIABLE_TEXT = {"type": "string", "pattern": r"\$\{"}
_META = ("title", "description", "default", "examples")


def _allow_variables(schema: dict[str, Any]) -> None:
    """Let each scalar key also be a ``${VAR}`` string, as the loader expands them first."""
    for name, prop in schema.get("properties", {}).items():
        if _takes_any_text(prop) or "$ref" in prop or prop.get("type") in ("array", "object"):
            continue
        members = prop.get("anyOf")
        if isinstance(members, list):
            # Flatten `Duration | None` (an anyOf inside an anyOf) while adding the variable.
            prop["anyOf"] = [*_flat(members), _VARIABLE_TEXT]
            continue
        core = {k: v for k, v in prop.items() if k not in _META}
        meta = {k: v for k, v in prop.items() if k in _META}
        schema["properties"][name] = {**meta, "anyOf": [core, _VARIABLE_TEXT]}


def _flat(members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for member in members:
        if "anyOf" in member and set(member) <= {"anyOf", *_META}:
            out.extend(_flat(member["anyOf"]))
        else:
            out.append(member)
    return out


def _takes_any_text(prop: dict[str, Any]) -> bool:
    if not prop:
        return True  # Any
    types = prop.get("type")
    if types == "string" or (isinstance(types, list) and "string" in types):
        return not any(k in prop for k in ("pattern", "enum", "const", "format"))
    return any(_takes_any_text(m) for m in prop.get("anyOf", []))


class _Interpolated(_Model):
    """A section under ``services:``, where any value may come from a ``${VAR}``."""

    model_config = ConfigDict(json_schema_extra=_allow_variables)


def _status_list(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


def _status_code(item: Any) -> tuple[int, int]:
    """``200``, ``"2xx"`` or ``"200-299"`` -> the range of codes it allows."""
    text = str(item).strip().lower()
    if re.fullmatch(r"[1-5]xx", text):
        base = int(text[0]) * 100
        return (base, base + 99)
    if m := re.fullmatch(r"(\d{3})\s*-\s*(\d{3})", text):
        return (int(m.group(1)), int(m.group(2)))
    if re.fullmatch(r"\d{3}", text):
        return (int(text), int(text))
    raise PydanticCustomError(
        "bad_status", "'{v}' is not a status: write 200, [200, 204], 2xx or 200-299", {"v": item}
    )


# Item by item, so each bad code of a list is reported at its own place.
StatusCodes = Annotated[
    list[Annotated[tuple[int, int], BeforeValidator(_status_code)]],
    BeforeValidator(_status_list),
    WithJsonSchema({"type": ["integer", "string", "array"], "examples": [200, "2xx", [200, 204]]}),
]


class HttpCheck(_Interpolated):
    """An HTTP(S) request and what its response must be."""

    url: str
    method: str = "GET"
    status: StatusCodes = Field(default_factory=lambda: [(200, 399)])
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    contains: str | None = None
    regex: str | None = None
    json_path: dict[str, Any] = Field(default_factory=dict)
    header_equals: dict[str, str] = Field(default_factory=dict)
    max_latency: Duration | None = None
    min_cert_days: int | None = Field(default=None, ge=0)
    follow_redirects: bool = False
    max_body: Size = 1_000_000
    verify_tls: bool = True


class TcpCheck(_Interpolated):
    """A TCP connect, optionally sending bytes and expecting a reply."""

    host: str
    port: int = Field(ge=1, le=65535)
    send: str | None = None
    expect: str | None = None


class DnsCheck(_Interpolated):
    """A DNS lookup and the answers it must give."""

    name: str
    type: Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV"] = "A"
    expect: list[str] = Field(default_factory=list)
    server: str | None = None


class PostgresCheck(_Interpolated):
    """A PostgreSQL connection and query."""

    dsn: str
    query: str = "SELECT 1"
    expect: Any = None
    schema_revision: str | None = None


class RedisCheck(_Interpolated):
    """A Redis PING, optionally with ``INFO`` field conditions."""

    url: str
    info: dict[str, str] = Field(default_factory=dict)


class CommandCheck(_Interpolated):
    """A local command, its exit code and output."""

    run: str
    exit_code: int = 0
    contains: str | None = None
    cwd: str | None = None


class Waiver(_Interpolated):
    """Lets a known failing check pass until ``until``, for a stated reason."""

    reason: str = Field(min_length=1)
    until: Any

    @field_validator("until")
    @classmethod
    def _date(cls, value: Any) -> Any:
        import datetime as dt

        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise PydanticCustomError(
                "bad_date", "'{v}' is not a date: write it as YYYY-MM-DD", {"v": value}
            ) from None


PROTOCOLS = ("http", "tcp", "dns", "postgres", "redis", "command")
_PLUGINS = "\x00plugins"


class Check(_Interpolated):
    """One probe of a service: exactly one protocol key, plus how to judge and retry it."""

    name: str | None = Field(default=None, pattern=_NAME)
    severity: Literal["critical", "warning"] = "critical"
    timeout: Duration | None = None
    retries: int = Field(default=0, ge=0, le=100)
    retry_backoff: Duration = 0.2
    interval: Duration | None = None
    failure_threshold: int = Field(default=3, ge=1, le=1000)
    success_threshold: int = Field(default=1, ge=1, le=1000)
    waiver: Waiver | None = None
    http: HttpCheck | None = None
    tcp: TcpCheck | None = None
    dns: DnsCheck | None = None
    postgres: PostgresCheck | None = None
    redis: RedisCheck | None = None
    command: CommandCheck | None = None
    # Protocols added by `redline.probes` entry points, by name, as written. Only
    # `_plugin_keys` fills it: no YAML author writes a key starting with NUL, so a
    # `plugins:` key in the file is an unknown key like any other.
    plugins: SkipJsonSchema[dict[str, dict[str, Any]]] = Field(
        default_factory=dict, exclude=True, validation_alias=_PLUGINS
    )

    @model_validator(mode="before")
    @classmethod
    def _plugin_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict) or _PLUGINS in data:
            return data
        unknown = [k for k in data if k not in cls.model_fields]
        if not unknown:
            return data
        from redline.probes.registry import plugin_protocols

        installed = set(plugin_protocols())
        plugins = {k: data[k] for k in unknown if k in installed and isinstance(data[k], dict)}
        if not plugins:
            return data
        return {**{k: v for k, v in data.items() if k not in plugins}, _PLUGINS: plugins}

    @model_validator(mode="after")
    def _one_protocol(self) -> Check:
        named = [p for p in PROTOCOLS if getattr(self, p) is not None] + list(self.plugins)
        if len(named) != 1:
            found = ", ".join(named) if named else "none"
            raise PydanticCustomError(
                "check_protocol",
                "a check needs exactly one of {protocols}; found {found}",
                {"protocols": ", ".join(PROTOCOLS), "found": found},
            )
        return self

    @property
    def protocol(self) -> str:
        builtin = next((p for p in PROTOCOLS if getattr(self, p) is not None), None)
        return builtin or next(iter(self.plugins))

    @property
    def spec(self) -> Any:
        """The protocol's section: a model for a built-in, the mapping for a plugin."""
        protocol = self.protocol
        return self.plugins[protocol] if protocol in self.plugins else getattr(self, protocol)


class DeployHooks(_Interpolated):
    """Commands run around a deploy's switch; each list runs in order, templated."""

    before_switch: list[str] = Field(default_factory=list)
    after_switch: list[str] = Field(default_factory=list)
    on_failure: list[str] = Field(default_factory=list)
    after_rollback: list[str] = Field(default_factory=list)


class CommandRecipeConfig(_Interpolated):
    """The team's own commands: ``deploy: ./deploy.sh {version}``."""

    deploy: str = Field(min_length=1)
    rollback: str | None = None
    timeout: Duration = Field(default=600.0, gt=0)
    cwd: str | None = None


class ReleasesRecipeConfig(_Interpolated):
    """A Capistrano-style directory: ``releases/<id>/``, ``shared/``, an atomic ``current``."""

    root: str = Field(min_length=1)
    populate: str = Field(min_length=1)
    shared: list[str] = Field(default_factory=list)
    keep_releases: int = Field(default=5, ge=2)
    start: str | None = None
    stop: str | None = None
    reload: str | None = None
    timeout: Duration = Field(default=600.0, gt=0)


class SchemaGuardConfig(_Interpolated):
    """The database schema revisions a release can run against (an Alembic version table)."""

    dsn: str = Field(min_length=1)
    min: ScalarText | None = None
    max: ScalarText | None = None
    revisions: list[ScalarText] = Field(default_factory=list)
    order: list[ScalarText] = Field(default_factory=list)
    table: str = "alembic_version"
    column: str = "version_num"


class SmokeConfig(_Interpolated):
    """After the switch: the service's checks until all pass or the deadline passes."""

    deadline: Duration = Field(default=60.0, gt=0)
    interval: Duration = Field(default=2.0, gt=0)


class SoakJudgeMetric(_Interpolated):
    """A soak measurement the canary judge compares with the last known good release's."""

    metric: Literal["p50_ms", "p95_ms", "p99_ms", "error_rate"]
    tolerance: Fraction = 0.10
    critical: bool = True


class SoakConfig(_Interpolated):
    """Then: latency and errors under a modest load for a while, judged per interval, and
    (``judge``) against the last known good release's soak, statistically."""

    duration: Duration = Field(default=300.0, gt=0)
    interval: Duration = Field(default=30.0, gt=0)
    scenario: str | None = None
    rate: Rate | None = None
    thresholds: dict[str, Expressions] = Field(default_factory=dict)
    judge: list[SoakJudgeMetric] = Field(
        default_factory=lambda: [
            SoakJudgeMetric(metric="p50_ms"),
            SoakJudgeMetric(metric="p95_ms"),
        ]
    )


class VerifyPolicyConfig(_Interpolated):
    """When verification fails, in Argo Rollouts' terms."""

    failure_limit: int = Field(default=1, ge=0)
    consecutive_error_limit: int = Field(default=4, ge=0)
    no_data: Literal["fail", "pass", "inconclusive"] = "inconclusive"
    inconclusive: Literal["hold", "rollback", "continue"] = "hold"


class VerifyConfig(_Interpolated):
    """The verification phases after a switch; ``shadow`` checks are recorded, never decide."""

    smoke: SmokeConfig = Field(default_factory=SmokeConfig)
    soak: SoakConfig | None = None
    policy: VerifyPolicyConfig = Field(default_factory=VerifyPolicyConfig)
    shadow: list[str] = Field(default_factory=list)


class ServiceDeploy(_Interpolated):
    """How a service is deployed and verified: one recipe (``command`` or ``releases``)."""

    command: CommandRecipeConfig | None = None
    releases: ReleasesRecipeConfig | None = None
    hooks: DeployHooks = Field(default_factory=DeployHooks)
    schema_: SchemaGuardConfig | None = Field(default=None, alias="schema")
    verify: VerifyConfig = Field(default_factory=VerifyConfig)

    @model_validator(mode="after")
    def _one_recipe(self) -> ServiceDeploy:
        if (self.command is None) == (self.releases is None):
            raise PydanticCustomError(
                "one_recipe", "a deploy has one recipe: command: or releases:, not both or neither"
            )
        return self


class DeploySettings(_Model):
    """The ``deploy:`` section: what every deploy shares."""

    lock_ttl: Duration = Field(default=1800.0, gt=0)
    max_consecutive_auto_rollbacks: int = Field(default=2, ge=1)


class Service(_Interpolated):
    """Something deployed: its kind, what it depends on, and its checks."""

    kind: str = "service"
    description: str | None = None
    url: str | None = None
    depends_on: list[str] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    deploy: ServiceDeploy | None = None


class Environment(_Model):
    """One place the system runs: its variables and the service and load settings it overrides."""

    description: str | None = None
    vars: dict[str, ScalarText] = Field(default_factory=dict)
    env_file: str | None = None
    services: dict[str, dict[str, Any]] = Field(default_factory=dict)
    load: dict[str, Any] = Field(default_factory=dict)
    store: str | None = None

    @field_validator("vars")
    @classmethod
    def _var_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            _check_var_name(name)
        return value


class Variable(_Model):
    """One entry of the variable contract."""

    type: VariableType = "str"
    required: bool = False
    required_in: list[str] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    values: list[str] = Field(default_factory=list)
    secret: bool = False
    # After the keys it is checked against (validation reads them in this order).
    default: ScalarText | None = None
    description: str | None = None

    @field_validator("max")
    @classmethod
    def _range(cls, value: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("min")
        if value is not None and low is not None and low > value:
            raise PydanticCustomError(
                "bad_range",
                "min {min} is more than max {max}",
                {"min": f"{low:g}", "max": f"{value:g}"},
            )
        return value

    @field_validator("default")
    @classmethod
    def _default_type(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or "type" not in info.data:
            return value
        from redline.environment import type_error

        if info.data["type"] == "enum" and not info.data.get("values"):
            return value  # reported as a missing `values:`
        spec = Variable(type=info.data["type"], values=info.data.get("values", []))
        reason = type_error(spec, value)
        if reason is None:
            return value
        shown = "the default" if info.data.get("secret") else f"the default '{value}'"
        raise PydanticCustomError(
            "bad_default",
            "{shown} is not a valid {type}: {reason}",
            {"shown": shown, "type": spec.type, "reason": reason},
        )

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise PydanticCustomError(
                    "bad_pattern", "pattern is not a valid regular expression: {e}", {"e": str(exc)}
                ) from None
        return value

    @model_validator(mode="after")
    def _enum_values(self) -> Variable:
        if self.type == "enum" and not self.values:
            raise PydanticCustomError(
                "enum_values", "an enum variable needs `values: [...]` listing what it may be"
            )
        return self


class HealthSettings(_Model):
    """How `redline health` checks continuously (a check's own `interval:` wins)."""

    interval: Duration = Field(default=30.0, gt=0)
    jitter: Duration = 1.0
    window: Duration = Field(default=86400.0, gt=0)
    cache_ttl: Duration = 2.0


class SecretsConfig(_Model):
    """Where the encrypted secrets file and its key live."""

    file: str = "redline.secrets.yaml"
    key_env: str = "REDLINE_SECRETS_KEY"
    key_file: str | None = ".redline/secrets.key"


# -- load ------------------------------------------------------------------------------

Executor = Literal[
    "constant-arrival-rate",
    "ramping-arrival-rate",
    "constant-vus",
    "ramping-vus",
    "per-vu-iterations",
]
_RATE_JSON = {"type": "string", "pattern": _RATE_PATTERN}


def _stage_target(value: Any) -> Any:
    """A rate (``100/s``, for arrival-rate executors) or a number of VUs; 0 is both."""
    if isinstance(value, bool):
        raise PydanticCustomError(
            "bad_rate", "a stage target is a rate like 100/s or a number of VUs, not a boolean"
        )
    # A number of VUs may come as text from a ${VAR}.
    if isinstance(value, (int, float)) or re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", str(value)):
        number = float(value)
        if number < 0:
            raise PydanticCustomError("bad_rate", "a stage target cannot be negative")
        return number
    try:
        return parse_rate(value)
    except ValueError as exc:
        raise PydanticCustomError(
            "bad_rate", "{e} (or, for a VUs executor, a number of VUs)", {"e": str(exc)}
        ) from None


def _rate_or_zero(value: Any) -> Any:
    if value == 0 and not isinstance(value, bool):
        return 0.0
    return _unit(parse_rate, "rate")(value)


RateOrZero = Annotated[
    float,
    BeforeValidator(_rate_or_zero),
    WithJsonSchema({"anyOf": [_RATE_JSON, {"const": 0}], "examples": ["10/s", 0]}),
    Field(ge=0),
]
StageTarget = Annotated[
    float,
    BeforeValidator(_stage_target),
    WithJsonSchema(
        {"anyOf": [_RATE_JSON, {"type": "integer", "minimum": 0}], "examples": ["100/s", 50, 0]}
    ),
]


def _one_or_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


# One threshold expression, or a list of them.
Expressions = Annotated[
    list[str],
    BeforeValidator(_one_or_list),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]


class LoadStage(_Interpolated):
    """Ramp linearly to ``target`` over ``duration``: a rate (``100/s``) or a number of VUs."""

    duration: Duration
    target: StageTarget


class LoadCheck(_Interpolated):
    """What a load-test response must show to count as a success."""

    status: StatusCodes = Field(default_factory=list)  # none: any 2xx or 3xx
    json_path: str | None = None
    equals: Any = None
    contains: str | None = None

    @model_validator(mode="after")
    def _equals_needs_path(self) -> LoadCheck:
        if "equals" in self.model_fields_set and self.json_path is None:
            raise PydanticCustomError(
                "equals_without_path", "equals: compares the value at json_path:, which is missing"
            )
        return self


class LoadRequest(_Interpolated):
    """One request a scenario's iterations send; ``weight`` sets how often it is chosen."""

    name: str | None = Field(default=None, pattern=_NAME)
    method: str = "GET"
    path: str = "/"
    headers: dict[str, ScalarText] = Field(default_factory=dict)
    query: dict[str, ScalarText] = Field(default_factory=dict)
    # `json` would shadow BaseModel.json; the YAML key is still `json:`.
    json_body: Any = Field(default=None, alias="json")
    body: str | None = None
    weight: float = Field(default=1.0, gt=0)
    check: LoadCheck | None = None

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z]+", value):
            raise PydanticCustomError(
                "bad_method", "'{v}' is not an HTTP method: write GET, POST, PUT, ...", {"v": value}
            )
        return value.upper()

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise PydanticCustomError(
                "bad_path",
                "'{v}' is not a path: start it with / (the scenario's target gives the host)",
                {"v": value},
            )
        return value

    @model_validator(mode="after")
    def _one_body(self) -> LoadRequest:
        if self.json_body is not None and self.body is not None:
            raise PydanticCustomError("two_bodies", "a request sends json: or body:, not both")
        return self


class LoadDefaults(_Interpolated):
    """Settings every scenario takes unless it sets its own."""

    timeout: Duration = Field(default=10.0, gt=0)
    graceful_stop: Duration = 5.0
    max_connections: int = Field(default=1000, ge=1)
    max_queue: int = Field(default=10_000, ge=0)


class Scenario(_Interpolated):
    """One load test: where (``target``), how iterations start (``executor``), what they do.

    Which keys an executor needs and takes is checked across keys
    (:mod:`redline.config.checks`), so every missing or stray one is reported at once.
    """

    description: str | None = None
    target: str
    executor: Executor
    rate: Rate | None = None
    start_rate: RateOrZero | None = None
    duration: Duration | None = Field(default=None, gt=0)
    stages: list[LoadStage] | None = None
    vus: int | None = Field(default=None, ge=1)
    start_vus: int | None = Field(default=None, ge=0)
    iterations: int | None = Field(default=None, ge=1)
    think_time: Duration | None = None
    max_connections: int | None = Field(default=None, ge=1)
    max_queue: int | None = Field(default=None, ge=0)
    timeout: Duration | None = Field(default=None, gt=0)
    graceful_stop: Duration | None = None
    requests: list[LoadRequest] | None = None
    flow: str | None = None
    data_file: str | None = None
    thresholds: dict[str, Expressions] = Field(default_factory=dict)
    tags: dict[str, ScalarText] = Field(default_factory=dict)

    @field_validator("flow")
    @classmethod
    def _flow(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(
            r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*", value
        ):
            raise PydanticCustomError(
                "bad_flow",
                "'{v}' is not module:function (e.g. mypkg.flows:checkout)",
                {"v": value},
            )
        return value


class Load(_Model):
    """The ``load:`` section: defaults and the named scenarios."""

    defaults: LoadDefaults = Field(default_factory=LoadDefaults)
    scenarios: dict[str, Scenario] = Field(default_factory=dict)


class RegressionMetric(_Model):
    """How one metric is gated: the smallest change worth failing a build for."""

    min_effect: Fraction | None = None
    min_effect_abs: float | None = Field(default=None, ge=0)
    direction: Literal["lower", "higher"] | None = None
    gate: bool | None = None


class Regressions(_Model):
    """The ``regressions:`` section: baselines, and what `redline gate` fails a build for."""

    main_branch: str = Field(default="main", min_length=1)
    baseline_runs: int = Field(default=5, ge=1)
    fdr: Fraction = 0.05
    inconclusive: Literal["fail", "pass"] = "fail"
    default: RegressionMetric = Field(
        default_factory=lambda: RegressionMetric(min_effect=0.05, gate=True)
    )
    metrics: dict[str, RegressionMetric] = Field(default_factory=dict)


class Config(_Model):
    """The whole of ``redline.yaml``."""

    # Top-level `x-` keys hold YAML anchors for reuse (as in docker compose); the loader
    # leaves them out, and the JSON Schema allows them.
    model_config = ConfigDict(json_schema_extra={"patternProperties": {"^x-": {}}})

    project: str = Field(min_length=1)
    store: str | None = None
    variable_prefixes: list[str] = Field(default_factory=list)
    environments: dict[str, Environment] = Field(default_factory=dict)
    variables: dict[str, Variable] = Field(default_factory=dict)
    secrets: SecretsConfig = Field(default_factory=SecretsConfig)
    health: HealthSettings = Field(default_factory=HealthSettings)
    services: dict[str, Service] = Field(default_factory=dict)
    load: Load = Field(default_factory=Load)
    regressions: Regressions = Field(default_factory=Regressions)
    deploy: DeploySettings = Field(default_factory=DeploySettings)

    @field_validator("variables")
    @classmethod
    def _var_names(cls, value: dict[str, Variable]) -> dict[str, Variable]:
        for name in value:
            _check_var_name(name)
        return value

    @field_validator("variable_prefixes", mode="before")
    @classmethod
    def _one_prefix(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def _check_var_name(name: str) -> None:
    if not _VAR_NAME.match(name):
        raise PydanticCustomError(
            "bad_var_name",
            "'{n}' is not a variable name: use letters, digits and _ (not first)",
            {"n": name},
        )
