"""Cold start: every function as deployed, in a fresh process, serving one representative event
against the emulator, as a ratio to a process that only imports boto3, makes a DynamoDB client and
reads one item.

"As deployed" means `sam build`'s output and nothing else: the built layer's `python/` and the
function's code directory are the measured process's whole `sys.path` beside the standard library
(`python -I -S`: no site-packages, so nothing of the dev venv), the environment is the template's
(Lambda's own variables, a sampled X-Ray trace header and a daemon address that we listen on), and
`-B` keeps the process from writing bytecode, as Lambda's read-only file system does: whatever
bytecode the build ships is used, and every module it does not ship is compiled on every start.

On a machine that is not arm64, the template is built for this machine's architecture instead (a
copy of it, with absolute code paths, and LAYER_ARCH for layers/core/Makefile): the only
difference is which pycryptodome wheel the build fetches.

Each round runs the baseline and then one function, the functions in turn, so that a noisy moment
hits a pair rather than one side; the ratio is the median of the pairs' ratios. Both wall time
(what a caller waits for, which includes the emulator's and the sandbox's answers) and the measured
process's own CPU time (user + system, read from the children's resource usage) are reported.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import urllib3

from infra.local.bootstrap import create_component_secret, create_event_bus, create_table
from infra.local.devconfig import DEFAULTS
from infra.local.emulator import start_emulator
from infra.local.events import http_api_event
from infra.local.template import load_template
from infra.sandbox import Sandbox, SandboxConfig
from tests.support.pushes import account_message_xml, signed_message, signed_push, ticket_xml
from wxcomponent.keys import GRANT, authorizer_key

TITLE = "Cold start: each function as deployed, against a boto3 baseline"
COMMAND = "PYTHONPATH=layers/core:. .venv/bin/python -m bench coldstart"
ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".aws-sam" / "bench"  # ignored by git, like every build
ROUNDS = int(os.environ.get("BENCH_COLDSTART_ROUNDS", "11"))
IMPORTTIME_RUNS = 5
BYTECODE_ROUNDS = 5
TOP_IMPORTS = 6
TABLE = "wxcomponent-bench"
SECRET = "wxcomponent-bench/component"
BUS = "wxcomponent-bench"
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
TARGETS = {"TokenVendingFunction": 1.2}
DEFAULT_TARGET = 1.5
# What the measured process runs: the paths it is given, the handler, one event, one line out. It
# ends with os._exit, as Lambda never tears an interpreter down (it freezes it, then kills it): the
# teardown of every module, a third of a process's CPU here, is no part of a cold start.
HANDLER_BOOT = """
import json, os, sys
spec = json.loads(sys.stdin.read())
sys.path[:0] = spec["path"]
from app import lambda_handler

class Context:
    function_name = spec["function"]
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + spec["function"]
    memory_limit_in_mb = 512
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name = "/aws/lambda/" + spec["function"]
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self):
        return 60000

answer = lambda_handler(spec["event"], Context())
shape = {"status": answer.get("statusCode"), "body": str(answer.get("body", ""))[:40], "keys": sorted(answer)}
sys.stdout.write("\\nBENCH " + json.dumps(shape) + "\\n")
sys.stdout.flush()
os._exit(0)
"""
BASELINE_BOOT = """
import json, os, sys
spec = json.loads(sys.stdin.read())
sys.path[:0] = spec["path"]
import boto3
client = boto3.client("dynamodb")
item = client.get_item(TableName=spec["table"], Key=spec["key"], ConsistentRead=True)
sys.stdout.write("\\nBENCH " + json.dumps({"found": "Item" in item}) + "\\n")
sys.stdout.flush()
os._exit(0)
"""


@dataclass(frozen=True)
class Sample:
    wall: float  # seconds
    cpu: float  # seconds of user + system time of the process


@dataclass
class Case:
    """One function: the event it serves (made fresh for every run) and what its answer must be."""

    function: str
    what: str
    event: Callable[[], dict[str, Any]]
    expect: Callable[[dict[str, Any]], bool]


def run() -> str:
    build = _build()
    with _world() as world:
        cases = _cases(world)
        pairs = _measure(build, world, cases)
        imports = {case.function: _importtime(build, world, case.function) for case in cases}
        without = _without_bytecode(build, world, cases[0])
    return (
        _render(pairs, imports, cases, world.datagrams) + "\n\n" + _render_bytecode(pairs[cases[0].function], without)
    )


# -- the build --------------------------------------------------------------------------------------


def _build() -> Path:
    """`sam build` into .aws-sam/bench/build, as `make build` runs it (no Docker, the venv's python3.12
    on PATH, no telemetry); the build directory is made afresh so no bytecode of an earlier run is in it."""
    template = ROOT / "template.yaml"
    text = template.read_text(encoding="utf-8")
    WORK.mkdir(parents=True, exist_ok=True)
    env_arch: dict[str, str] = {}
    if platform.machine() not in ("aarch64", "arm64"):
        text = text.replace("arm64", "x86_64")
        env_arch["LAYER_ARCH"] = "x86_64"  # layers/core/Makefile's wheels
        text = re.sub(r"^(\s+(?:CodeUri|ContentUri): )(\S+)", lambda m: m[1] + str(ROOT / m[2]), text, flags=re.M)
        template = WORK / "template.yaml"
        template.write_text(text, encoding="utf-8")
    build = WORK / "build"
    shutil.rmtree(build, ignore_errors=True)
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, **env_arch, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0"}
    sam = shutil.which("sam", path=bin_dir) or "sam"
    command = [sam, "build", "--template", str(template), "--build-dir", str(build), "--cache-dir", str(WORK / "cache")]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError("sam build failed:\n" + done.stdout[-2000:] + done.stderr[-2000:])
    return build


# -- the world: emulator, sandbox, seeded table -----------------------------------------------------


@dataclass
class World:
    env: dict[str, str]  # what every measured process gets, before its function's own variables
    template: dict[str, Any]
    appid: str  # an authorized Official Account
    user_name: str  # its gh_ name
    traced: Callable[[], int]  # datagrams sent to the X-Ray daemon's address since it was last asked
    datagrams: dict[str, int] = field(default_factory=dict)  # per function, in one run


@contextmanager
def _world() -> Iterator[World]:
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2, read=30), retries=False)
    with start_emulator() as emulator, _daemon() as (daemon_address, drain), _dead_url() as nowhere:
        config = SandboxConfig(
            port=0,
            ticket_interval=0,
            push_ticket_on_start=False,
            component_events_url=nowhere,
            account_messages_url=nowhere,
            push_tries=1,
            push_timeout=1.0,
        )
        with Sandbox(config) as sandbox:
            common = {
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1",
                "AWS_ENDPOINT_URL": emulator.url,
                "TABLE_NAME": TABLE,
                "EVENT_BUS_NAME": BUS,
                "WECHAT_API_BASE": sandbox.url,
                "WECHAT_MP_BASE": sandbox.url,
            }
            # This process seeds the table through the core with the values given directly, quietly.
            quiet = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
            with _environment({**common, **DEFAULTS, **quiet, "COMPONENT_SECRET_ID": ""}):
                create_table(emulator.url, TABLE)
                create_event_bus(emulator.url, BUS)
                create_component_secret(emulator.url, SECRET, _secret_value())
                appid, user_name = _seed(http, sandbox.url)
            template = load_template()
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "LANG": "C.UTF-8",
                **_template_strings(template, None),
                **common,
                "COMPONENT_SECRET_ID": SECRET,  # as deployed: the component's values come from the secret
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "_X_AMZN_TRACE_ID": TRACE_HEADER,
                "AWS_XRAY_DAEMON_ADDRESS": daemon_address,
                "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            }
            yield World(env, template, appid, user_name, drain)


def _secret_value() -> dict[str, str]:
    return {
        "component_appid": DEFAULTS["WECHAT_COMPONENT_APPID"],
        "component_appsecret": DEFAULTS["WECHAT_COMPONENT_APPSECRET"],
        "token": DEFAULTS["WECHAT_COMPONENT_TOKEN"],
        "encoding_aes_key": DEFAULTS["WECHAT_COMPONENT_AES_KEY"],
    }


def _seed(http: urllib3.PoolManager, sandbox_url: str) -> tuple[str, str]:
    """A ticket, the component token and one authorized Official Account in the table, through the
    core itself (the dev venv's copy, in this process), with the sandbox as WeChat."""
    from wxcomponent.bootstrap import Container  # noqa: PLC0415 - after the environment is set
    from wxcomponent.domain.verify_tickets import VerifyTicket  # noqa: PLC0415
    from wxcomponent.settings import Settings  # noqa: PLC0415

    def control(path: str, body: dict[str, Any] | None = None) -> Any:
        method = "GET" if body is None else "POST"
        answer = http.request(method, f"{sandbox_url}/sandbox/{path}", body=json.dumps(body or {}).encode())
        if answer.status >= 300:
            raise RuntimeError(f"sandbox {path}: {answer.status}")
        return json.loads(answer.data)

    graph = Container(Settings.from_environment())
    now = int(time.time())
    graph.verify_tickets.save_ticket(
        VerifyTicket.received(DEFAULTS["WECHAT_COMPONENT_APPID"], control("push-ticket", {})["ticket"], now, now)
    )
    account = next(a for a in control("state")["accounts"] if a["kind"] == "official_account")
    graph.authorizations.complete(control("authorize", {"appid": account["appid"]})["auth_code"])
    return str(account["appid"]), str(account["user_name"])


def _template_strings(template: dict[str, Any], function: str | None) -> dict[str, str]:
    """The environment the template gives every function (or `function`): its plain strings; the
    references are filled in by the world."""
    if function is None:
        declared = template["Globals"]["Function"].get("Environment", {}).get("Variables", {})
    else:
        declared = template["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})
    return {name: value for name, value in declared.items() if isinstance(value, str)}


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def _daemon() -> Iterator[tuple[str, Callable[[], int]]]:
    """A UDP socket where the X-Ray daemon would listen, and a count of what tracing sent to it
    since the last count (read once the measured process has exited, so all of it is queued)."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.setblocking(False)

    def drain() -> int:
        count = 0
        while True:
            try:
                udp.recv(65536)
            except BlockingIOError:
                return count
            count += 1

    try:
        yield f"127.0.0.1:{udp.getsockname()[1]}", drain
    finally:
        udp.close()


@contextmanager
def _dead_url() -> Iterator[str]:
    """A loopback URL nobody answers: the sandbox's pushes go nowhere (we call the handlers ourselves)."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{closed.getsockname()[1]}/nowhere"


# -- the cases ----------------------------------------------------------------------------------------


def _cases(world: World) -> list[Case]:
    counter = iter(range(10**9))

    def push() -> dict[str, Any]:
        now = int(time.time())
        signed = signed_push(ticket_xml(f"ticket@@@bench-{next(counter)}", now), nonce=uuid.uuid4().hex[:10])
        return http_api_event(
            "POST",
            "/wechat/component/events",
            query=urlencode(signed.query),
            body=signed.body,
            headers={"content-type": "text/xml"},
        )

    def message() -> dict[str, Any]:
        fields: list[tuple[str, str | int]] = [
            ("MsgType", "text"),
            ("Content", "hello"),
            ("MsgId", 10**12 + next(counter)),
        ]
        signed = signed_message(
            account_message_xml(world.user_name, "oBenchUser0123456789abcdefgh", fields),
            world.user_name,
            nonce=uuid.uuid4().hex[:10],
        )
        path = f"/wechat/accounts/{world.appid}/messages"
        return http_api_event(
            "POST",
            path,
            route_key="POST /wechat/accounts/{appid}/messages",
            path_parameters={"appid": world.appid},
            query=urlencode(signed.query),
            body=signed.body,
            headers={"content-type": "text/xml"},
        )

    def start_page() -> dict[str, Any]:
        return http_api_event("GET", "/wechat/authorize", headers={"user-agent": "Mozilla/5.0 (X11; Linux x86_64)"})

    def success(answer: dict[str, Any]) -> bool:
        return bool(answer["status"] == 200 and answer["body"] == "success")

    return [
        Case(
            "TokenVendingFunction",
            "a direct Invoke for an authorizer token, read from the table",
            lambda: {"kind": "authorizer", "appid": world.appid},
            lambda answer: "access_token" in answer["keys"] and "error" not in answer["keys"],
        ),
        Case("ComponentEventsFunction", "a signed, encrypted ticket push, stored", push, success),
        Case(
            "AccountMessagesFunction",
            "a user's text message to an authorized account, published on the bus (no reply function)",
            message,
            success,
        ),
        Case(
            "AuthorizationFunction",
            "the start page: a pre-auth code from the sandbox (one WeChat call)",
            start_page,
            lambda answer: answer["status"] == 200,
        ),
        Case(
            "TokenRefresherFunction",
            "a scheduled sweep with nothing due (the index read, the run recorded)",
            lambda: {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}},
            lambda answer: "failed" in answer["keys"],
        ),
    ]


# -- measuring -------------------------------------------------------------------------------------------


def _function_env(world: World, function: str, build: Path) -> dict[str, str]:
    return {
        **world.env,
        **{k: v for k, v in _template_strings(world.template, function).items() if v},
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "LAMBDA_TASK_ROOT": str(build / function),
    }


def _spawn(boot: str, spec: dict[str, Any], env: dict[str, str]) -> tuple[Sample, dict[str, Any]]:
    """One fresh process: its wall time, its CPU time and the line it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", boot],
        input=json.dumps(spec),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the measured process failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return Sample(wall, cpu), json.loads(lines[-1][len("BENCH ") :])


def _baseline(build: Path, world: World, layer: Path | None = None) -> Sample:
    spec = {
        "path": [str(layer or build / "CoreLayer" / "python")],
        "table": TABLE,
        "key": {"pk": {"S": authorizer_key(world.appid)}, "sk": {"S": GRANT}},
    }
    sample, answer = _spawn(BASELINE_BOOT, spec, {**world.env, "AWS_LAMBDA_FUNCTION_NAME": "Baseline"})
    if not answer.get("found"):
        raise RuntimeError("the baseline's GetItem found nothing")
    return sample


def _handler(build: Path, world: World, case: Case, layer: Path | None = None) -> Sample:
    spec = {
        "path": [str(build / case.function), str(layer or build / "CoreLayer" / "python")],
        "function": case.function,
        "event": case.event(),
    }
    sample, answer = _spawn(HANDLER_BOOT, spec, _function_env(world, case.function, build))
    if not case.expect(answer):
        raise RuntimeError(f"{case.function} answered {answer}")
    return sample


def _measure(build: Path, world: World, cases: list[Case]) -> dict[str, list[tuple[Sample, Sample]]]:
    """(baseline, function) pairs per function, ROUNDS of them, after one unmeasured run of each."""
    _baseline(build, world)
    for case in cases:
        world.traced()
        _handler(build, world, case)
        world.datagrams[case.function] = world.traced()
    pairs: dict[str, list[tuple[Sample, Sample]]] = {case.function: [] for case in cases}
    for round_ in range(ROUNDS):
        for case in cases[round_ % len(cases) :] + cases[: round_ % len(cases)]:
            pairs[case.function].append((_baseline(build, world), _handler(build, world, case)))
    return pairs


def _without_bytecode(build: Path, world: World, case: Case) -> list[tuple[Sample, Sample]]:
    """The same pairs for one function with the layer as SAM's python3.12 builder shipped it: the
    same files without their bytecode, which Lambda's read-only file system never keeps."""
    bare = WORK / "without-bytecode"
    shutil.rmtree(bare, ignore_errors=True)
    shutil.copytree(build / "CoreLayer" / "python", bare, ignore=shutil.ignore_patterns("__pycache__"))
    return [(_baseline(build, world, bare), _handler(build, world, case, bare)) for _ in range(BYTECODE_ROUNDS)]


def _importtime(build: Path, world: World, function: str) -> tuple[float, list[tuple[str, float]]]:
    """Median total import time of the handler module (ms) and its top modules by their own time."""
    runs: list[dict[str, int]] = []
    totals: list[int] = []
    code = f"import sys; sys.path[:0] = {[str(build / function), str(build / 'CoreLayer' / 'python')]!r}; import app"
    for _ in range(IMPORTTIME_RUNS):
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-B", "-X", "importtime", "-c", code],
            env=_function_env(world, function, build),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        own: dict[str, int] = {}
        for line in done.stderr.splitlines():
            fields = line.split("|")
            if len(fields) != 3 or not fields[0].startswith("import time:") or "self [us]" in line:
                continue
            own[fields[2].strip()] = int(fields[0].split(":")[1])
            if fields[2].strip() == "app":
                totals.append(int(fields[1]))
        runs.append(own)
    names = set().union(*runs)
    medians = {name: statistics.median(run.get(name, 0) for run in runs) / 1000 for name in names}
    top = sorted(medians.items(), key=lambda item: -item[1])[:TOP_IMPORTS]
    return statistics.median(totals) / 1000, top


# -- the document ----------------------------------------------------------------------------------------


def _render(
    pairs: dict[str, list[tuple[Sample, Sample]]],
    imports: dict[str, tuple[float, list[tuple[str, float]]]],
    cases: list[Case],
    datagrams: dict[str, int],
) -> str:
    lines = [
        f"Measured with `{COMMAND}`: `sam build` of template.yaml, then {ROUNDS} rounds, each a fresh",
        "baseline process and a fresh process per function (in turn), against moto's server and the",
        "WeChat sandbox on loopback. Each process runs `python -I -S -B` with the built layer's",
        "`python/` and the function's directory as its only paths (nothing of the dev venv), the",
        "template's environment, Lambda's variables and a sampled trace header; it imports the handler,",
        "serves the event and exits. The component's values come from the Secrets Manager secret, as",
        'deployed. Baseline: `import boto3`, `boto3.client("dynamodb")`, one consistent GetItem, with',
        "the same built layer's boto3.",
        "",
        "Ratios are medians of the per-round ratios function / baseline; ms are medians, comparable only",
        "within this run. CPU is the process's own user + system time: the emulator's and the sandbox's",
        "work is not in it, so it is the steadier measure of what our code costs. Wall time includes",
        "their answers, and moto answers each request in milliseconds of Python where DynamoDB takes a",
        "few: a function that makes more requests than the baseline's one pays that here, not in AWS.",
        "Each process ends without tearing the interpreter down, as Lambda freezes and kills it.",
        "X-Ray datagrams: what the process sent to the X-Ray daemon's address (none: no SDK).",
        "",
        "What a function pays beyond the baseline: Powertools' logger and metrics (imported, their first",
        "lines written), the core's own modules (the import table below names the largest), the",
        "Secrets Manager client and its one read (every function but a vend), the requests its event",
        "needs, and the work itself (AES and XML for a push). The machine is shared: a ratio moves by",
        "about 0.1 between runs, so a target met or missed by less than that is within the noise.",
        "",
        "| function | event | wall ms | baseline wall ms | wall ratio | CPU ms | baseline CPU ms | CPU ratio "
        "| target | X-Ray datagrams |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for case in cases:
        samples = pairs[case.function]
        wall = statistics.median(f.wall for _, f in samples) * 1000
        base_wall = statistics.median(b.wall for b, _ in samples) * 1000
        cpu = statistics.median(f.cpu for _, f in samples) * 1000
        base_cpu = statistics.median(b.cpu for b, _ in samples) * 1000
        wall_ratio = statistics.median(f.wall / b.wall for b, f in samples)
        cpu_ratio = statistics.median(f.cpu / b.cpu for b, f in samples)
        target = TARGETS.get(case.function, DEFAULT_TARGET)
        verdict = f"CPU {_met(cpu_ratio, target)}, wall {_met(wall_ratio, target)}"
        lines.append(
            f"| {_short(case.function)} | {case.what} | {wall:.0f} | {base_wall:.0f} | {wall_ratio:.2f} | {cpu:.0f} | "
            f"{base_cpu:.0f} | {cpu_ratio:.2f} | ≤ {target}×: {verdict} | {datagrams[case.function]} |"  # noqa: RUF001
        )
    lines += [
        "",
        "Where the import time goes: `python -X importtime -c 'import app'` in the same conditions,",
        f"{IMPORTTIME_RUNS} runs; the handler module's total import and its {TOP_IMPORTS} modules with the",
        "most time of their own (medians, ms).",
        "",
        "| function | import ms | top modules by own time (ms) |",
        "| --- | ---: | --- |",
    ]
    for case in cases:
        total, top = imports[case.function]
        entries = ", ".join(f"`{name}` {ms:.0f}" for name, ms in top)
        lines.append(f"| {_short(case.function)} | {total:.0f} | {entries} |")
    return "\n".join(lines)


def _render_bytecode(built: list[tuple[Sample, Sample]], bare: list[tuple[Sample, Sample]]) -> str:
    lines = [
        'What the layer\'s bytecode saves (docs/decisions.md, "Bytecode in the layer"): the first',
        f"function above and the baseline again, {BYTECODE_ROUNDS} rounds, with the layer's files without their",
        "`__pycache__`, as SAM's python3.12 builder shipped them: every module is compiled at every start.",
        "",
        "| layer | function CPU ms | baseline CPU ms | function wall ms | baseline wall ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, samples in (("as built (bytecode)", built), ("without bytecode", bare)):
        cpu = statistics.median(f.cpu for _, f in samples) * 1000
        base_cpu = statistics.median(b.cpu for b, _ in samples) * 1000
        wall = statistics.median(f.wall for _, f in samples) * 1000
        base_wall = statistics.median(b.wall for b, _ in samples) * 1000
        lines.append(f"| {name} | {cpu:.0f} | {base_cpu:.0f} | {wall:.0f} | {base_wall:.0f} |")
    return "\n".join(lines)


def _met(ratio: float, target: float) -> str:
    return "met" if ratio <= target else "missed"


def _short(function: str) -> str:
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", function.removesuffix("Function")).lower()
    return f"`{snake}`"
