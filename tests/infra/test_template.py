"""template.yaml: lint-clean, and what the SAM transform makes of it is what we promise."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.local.template import ROOT, load_template, resources_of_type
from tests.support.template import transformed_template
from wxcomponent.adapters.eventbridge import SOURCE as EVENT_SOURCE

FUNCTIONS = {  # logical id -> (folder, [(method, path)])
    "ComponentEventsFunction": ("component_events", [("POST", "/wechat/component/events")]),
    "AuthorizationFunction": (
        "authorization",
        [("GET", "/wechat/authorize"), ("GET", "/wechat/authorize/callback")],
    ),
    "TokenVendingFunction": ("token_vending", [("POST", "/tokens")]),
    "AccountMessagesFunction": ("account_messages", [("POST", "/wechat/accounts/{appid}/messages")]),
}
TABLE = repr({"Fn::GetAtt": ["Table", "Arn"]})
SECRET = repr({"Fn::If": ["CreateComponentSecret", {"Ref": "ComponentSecret"}, {"Ref": "ExistingComponentSecretArn"}]})
BUS = repr({"Fn::GetAtt": ["EventBus", "Arn"]})
ITEM_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
}
# boto3's operation -> the IAM action it needs (each of our adapters' calls must be allowed)
IAM_ACTION_OF = {
    "get_item": "dynamodb:GetItem",
    "batch_get_item": "dynamodb:BatchGetItem",
    "put_item": "dynamodb:PutItem",
    "update_item": "dynamodb:UpdateItem",
    "delete_item": "dynamodb:DeleteItem",
    "query": "dynamodb:Query",
    # no IAM action of its own: each action in it needs its own (Put, Update, Delete, ConditionCheckItem)
    "transact_write_items": "dynamodb:ConditionCheckItem",
}


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    return transformed_template()


CHECKOV = ROOT / ".venv" / "checkov" / "bin" / "checkov"  # its own venv (make checkov): its pins clash with ours


def test_checkov_is_clean_on_the_template_and_on_what_sam_makes_of_it(
    transformed: dict[str, Any], tmp_path: Path
) -> None:
    """The template as written (checkov reads SAM's resources) and the transform's output (the
    generated roles, permissions and stage), with the template's justified skips carried over."""
    assert CHECKOV.exists(), "checkov is installed by `make checkov` (make test does it)"
    template = load_template()
    output = copy.deepcopy(transformed)
    for name, resource in template["Resources"].items():
        if "checkov" in resource.get("Metadata", {}) and name in output["Resources"]:
            output["Resources"][name].setdefault("Metadata", {})["checkov"] = resource["Metadata"]["checkov"]
    (tmp_path / "transformed.json").write_text(json.dumps(output, default=str))
    run = subprocess.run(
        [
            *(str(CHECKOV), "--framework", "cloudformation", "--quiet", "--compact", "--skip-download", "-o", "json"),
            *("-f", str(ROOT / "template.yaml"), "-f", str(tmp_path / "transformed.json")),
            *("-f", str(ROOT / "infra" / "front-waf.yaml")),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    reports = json.loads(run.stdout)
    summary = reports["summary"] if isinstance(reports, dict) else reports[0]["summary"]
    assert summary["failed"] == 0 and summary["passed"] > 20 and summary["parsing_errors"] == 0


def test_every_checkov_skip_is_justified_in_the_template() -> None:
    skips = [
        (name, skip)
        for template in (load_template(), load_template(ROOT / "infra" / "front-waf.yaml"))
        for name, resource in template["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for name, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (name, skip)
        assert len(skip.get("comment", "")) >= 60, f"{name}: {skip['id']} needs its reason"


def test_access_logs_carry_no_query_string_and_are_kept_for_a_bounded_time(transformed: dict[str, Any]) -> None:
    """The callback's query string holds the single-use auth code: never logged."""
    [stage] = resources_of_type(transformed, "AWS::ApiGatewayV2::Stage").values()
    settings = stage["Properties"]["AccessLogSettings"]
    assert settings["DestinationArn"] == {"Fn::GetAtt": ["HttpApiAccessLogs", "Arn"]}
    fields = json.loads(settings["Format"])
    assert set(fields.values()) <= {
        "$context.requestId",
        "$context.identity.sourceIp",
        "$context.requestTime",
        "$context.routeKey",
        "$context.status",
        "$context.responseLength",
        "$context.responseLatency",
        "$context.integrationErrorMessage",
    }
    group = transformed["Resources"]["HttpApiAccessLogs"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_cfn_lint_is_clean() -> None:
    lint = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            str(ROOT / "template.yaml"),
            str(ROOT / "infra" / "front-waf.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_table_has_ttl_pitr_sse_and_string_keys(transformed: dict[str, Any]) -> None:
    [table] = resources_of_type(transformed, "AWS::DynamoDB::Table").values()
    properties = table["Properties"]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert {a["AttributeName"]: a["AttributeType"] for a in properties["AttributeDefinitions"]}["pk"] == "S"
    assert properties["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert table["DeletionPolicy"] == "Retain"


def test_every_route_of_the_contract_is_on_the_http_api(transformed: dict[str, Any]) -> None:
    [api] = resources_of_type(transformed, "AWS::ApiGatewayV2::Api").values()
    paths = api["Properties"]["Body"]["paths"]
    for _, (_, routes) in FUNCTIONS.items():
        for method, path in routes:
            assert method.lower() in paths[path], f"{method} {path} missing"


def test_functions_follow_the_contract(transformed: dict[str, Any]) -> None:
    functions = resources_of_type(transformed, "AWS::Lambda::Function")
    for logical_id, (folder, _) in FUNCTIONS.items():
        properties = functions[logical_id]["Properties"]
        assert properties["Handler"] == "app.lambda_handler"
        assert properties["Code"]["S3Key"] == f"functions/{folder}.zip"
        assert properties["Runtime"] == "python3.12"
        assert properties["Architectures"] == ["arm64"]
        assert (ROOT / "functions" / folder / "app.py").is_file()


def test_the_layer_matches_the_functions(transformed: dict[str, Any]) -> None:
    [layer] = resources_of_type(transformed, "AWS::Lambda::LayerVersion").values()
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    metadata = load_template()["Resources"]["CoreLayer"]["Metadata"]
    # layers/core/Makefile builds it (the wheels for Lambda's architecture, and their bytecode):
    # tests/infra/test_build.py runs it.
    assert metadata == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert "manylinux2014_$(LAYER_ARCH)" in (ROOT / "layers" / "core" / "Makefile").read_text()


def _policy_actions(transformed: dict[str, Any], function: str) -> dict[str, set[str]]:
    """Resource (as written) -> actions, over every inline statement of the function's role."""
    actions: dict[str, set[str]] = {}
    for statement in _statements(transformed, function):
        assert statement["Effect"] == "Allow"
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in resources:
            actions.setdefault(repr(resource), set()).update(_actions(statement))
    return actions


def _statements(transformed: dict[str, Any], function: str) -> list[dict[str, Any]]:
    role = transformed["Resources"][f"{function}Role"]["Properties"]
    return [s for policy in role.get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return set(action) if isinstance(action, list) else {action}


# What each function may do to the table (review L5): only the item actions its code path makes, on
# only the partition keys it touches (dynamodb:LeadingKeys). The authorization pages never read
# many items at once nor guard a transaction; vending and the refresher never see an authorization
# code or state. tests/integration/test_iam_in_use.py holds the handlers' real requests to these.
READS_AND_WRITES = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
EVERY_PREFIX = {"COMPONENT#*", "AUTHORIZER#*", "AUTHCODE#*"}
TABLE_ACCESS = {
    "ComponentEventsFunction": (ITEM_ACTIONS, EVERY_PREFIX),
    # the start page records its state (AUTHSTATE#), the callback consumes it
    "AuthorizationFunction": (READS_AND_WRITES, EVERY_PREFIX | {"AUTHSTATE#*"}),
    # the release checks' QUERY_AUTH_CODE task exchanges a code and refreshes the test account's token
    "AccountMessagesFunction": (ITEM_ACTIONS, EVERY_PREFIX),
    "TokenVendingFunction": (ITEM_ACTIONS, {"COMPONENT#*", "AUTHORIZER#*"}),
    "TokenRefresherFunction": (ITEM_ACTIONS, {"COMPONENT#*", "AUTHORIZER#*"}),
}
LEADING_KEYS = "ForAllValues:StringLike"


@pytest.mark.parametrize("function", sorted(TABLE_ACCESS))
def test_each_function_has_only_the_item_actions_and_key_prefixes_it_uses(
    transformed: dict[str, Any], function: str
) -> None:
    actions, prefixes = TABLE_ACCESS[function]
    [statement] = [s for s in _statements(transformed, function) if s["Resource"] == {"Fn::GetAtt": ["Table", "Arn"]}]
    assert _actions(statement) == actions
    assert statement["Condition"] == {LEADING_KEYS: {"dynamodb:LeadingKeys": sorted(prefixes)}}


def test_every_partition_key_the_core_writes_is_granted_to_some_function() -> None:
    """A new item type (a new `PREFIX#…` partition key) fails here until a function is granted it:
    moto never checks IAM, so without this it would pass every local test and meet AccessDenied."""
    core = ROOT / "layers" / "core" / "wxcomponent"
    keys = (core / "keys.py").read_text(encoding="utf-8")
    sort_keys = set(re.findall(r'def \w*sort_key\([^)]*\) -> str:\s+return f"([A-Z_]+)#', keys))
    assert sort_keys == {"PUSH", "MESSAGE", "QUOTA_CLEARS"}
    partition_keys = {
        prefix
        for path in core.rglob("*.py")
        for prefix in re.findall(r'f"([A-Z][A-Z_]*)#\{', path.read_text(encoding="utf-8"))
    } - sort_keys
    assert {"COMPONENT", "AUTHORIZER", "AUTHCODE"} <= partition_keys  # the scan sees them
    granted = set().union(*(prefixes for _, prefixes in TABLE_ACCESS.values()))
    assert {f"{prefix}#*" for prefix in partition_keys} <= granted


@pytest.mark.parametrize("function", sorted(TABLE_ACCESS))
def test_policies_name_exact_actions_on_exact_resources(transformed: dict[str, Any], function: str) -> None:
    """Item actions on the table (no Scan; Query only on the refresh index, by the refresher), its
    secret, its bus with our own source only: nothing else."""
    expected = {
        TABLE: TABLE_ACCESS[function][0],
        SECRET: {"secretsmanager:GetSecretValue"},
        BUS: {"events:PutEvents"},
    }
    if function == "TokenRefresherFunction":
        expected[repr({"Fn::Sub": "${Table.Arn}/index/RefreshDue"})] = {"dynamodb:Query"}
        expected[repr({"Fn::GetAtt": ["RefresherDeadLetterQueue", "Arn"]})] = {"sqs:SendMessage"}
    assert _policy_actions(transformed, function) == expected
    [publish] = [s for s in _statements(transformed, function) if s["Resource"] == {"Fn::GetAtt": ["EventBus", "Arn"]}]
    assert publish["Condition"] == {"ForAllValues:StringEquals": {"events:source": [EVENT_SOURCE]}}
    role = transformed["Resources"][f"{function}Role"]["Properties"]
    assert {str(arn).rsplit("/", 1)[-1] for arn in role.get("ManagedPolicyArns", [])} == MANAGED


# SAM adds the VPC one whenever VpcConfig is declared; outside a VPC, NoNetworkInterfacesPolicy denies it.
MANAGED = {"AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess", "AWSLambdaVPCAccessExecutionRole"}


def test_outside_a_vpc_no_function_may_touch_network_interfaces(transformed: dict[str, Any]) -> None:
    deny = transformed["Resources"]["NoNetworkInterfacesPolicy"]
    assert deny["Condition"] == "NotInVpc"
    assert transformed["Conditions"]["NotInVpc"] == {"Fn::Not": [{"Condition": "InVpc"}]}
    roles = {role["Ref"] for role in deny["Properties"]["Roles"]}
    functions = resources_of_type(transformed, "AWS::Lambda::Function")
    assert roles == {f"{name}Role" for name in functions}
    [statement] = deny["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny" and statement["Resource"] == "*"
    assert {"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"} <= set(statement["Action"])


def test_every_table_operation_the_adapters_make_is_allowed() -> None:
    """moto never checks IAM: an operation the adapters start using (BatchGetItem once) would pass
    every local test and fail with AccessDenied on AWS. So the code's calls are read here."""
    adapters = ROOT / "layers" / "core" / "wxcomponent" / "adapters" / "dynamodb"
    used = {
        operation
        for path in adapters.glob("*.py")
        for operation in re.findall(r"\bclient\.(\w+)\(", path.read_text(encoding="utf-8"))
    }
    assert {"get_item", "batch_get_item", "put_item", "query", "transact_write_items"} <= used  # the scan sees them
    unknown = used - set(IAM_ACTION_OF)
    assert not unknown, f"map these operations to their IAM actions: {unknown}"
    needed = {IAM_ACTION_OF[operation] for operation in used} - {"dynamodb:Query"}  # the index only
    assert needed <= ITEM_ACTIONS


def test_the_refresher_runs_on_a_schedule_and_fails_into_its_queue(transformed: dict[str, Any]) -> None:
    function = transformed["Resources"]["TokenRefresherFunction"]["Properties"]
    assert function["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": ["RefresherDeadLetterQueue", "Arn"]}}
    rules = resources_of_type(transformed, "AWS::Events::Rule")
    [rule] = [r for r in rules.values() if "ScheduleExpression" in r["Properties"]]
    assert rule["Properties"]["ScheduleExpression"] == {"Ref": "RefreshSchedule"}
    assert load_template()["Parameters"]["RefreshSchedule"]["Default"] == "rate(5 minutes)"


def test_the_refresh_index_is_sparse_sharded_and_keys_only(transformed: dict[str, Any]) -> None:
    [table] = resources_of_type(transformed, "AWS::DynamoDB::Table").values()
    [index] = table["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "RefreshDue"
    assert index["KeySchema"] == [
        {"AttributeName": "refresh_shard", "KeyType": "HASH"},
        {"AttributeName": "refresh_due", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}


def test_traces_never_capture_answers_which_carry_tokens() -> None:
    """Lambda traces every function itself, which records no payload; and the layer ships no tracing
    SDK that could (tests/infra/test_import_guard.py holds the handlers to it)."""
    template = load_template()
    assert template["Globals"]["Function"]["Tracing"] == "Active"
    requirements = (ROOT / "layers" / "core" / "requirements.txt").read_text().lower()
    assert not any(sdk in requirements for sdk in ("[tracer]", "aws-xray-sdk", "opentelemetry"))
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert not any(name.startswith("POWERTOOLS_TRACER") for name in variables)


def test_only_the_token_route_requires_iam_and_everything_else_is_public(transformed: dict[str, Any]) -> None:
    [api] = resources_of_type(transformed, "AWS::ApiGatewayV2::Api").values()
    for path, methods in api["Properties"]["Body"]["paths"].items():
        for method, operation in methods.items():
            if method.startswith("x-"):
                continue
            expected: list[dict[str, list[str]]] | None = [{"AWS_IAM": []}] if path == "/tokens" else None
            assert operation.get("security") == expected, (method, path)


def test_account_messages_may_invoke_itself_and_the_reply_function_only(transformed: dict[str, Any]) -> None:
    """Its own asynchronous invocations (work after the answer), and the vendor's reply function
    only when one is configured: a separate policy, since the role naming its own function would
    be a circular reference."""
    policies = [
        p["Properties"]
        for p in resources_of_type(transformed, "AWS::IAM::Policy").values()
        if p["Properties"]["Roles"] == [{"Ref": "AccountMessagesFunctionRole"}]
    ]
    [policy] = policies
    own, reply = policy["PolicyDocument"]["Statement"]
    assert own == {
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": [
            {"Fn::GetAtt": ["AccountMessagesFunction", "Arn"]},
            {"Fn::Sub": "${AccountMessagesFunction.Arn}:*"},
        ],
    }
    assert reply == {
        "Fn::If": [
            "HasMessageReplyFunction",
            {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": {"Ref": "MessageReplyFunctionArn"}},
            {"Ref": "AWS::NoValue"},
        ]
    }
    configs = resources_of_type(transformed, "AWS::Lambda::EventInvokeConfig")
    [config] = [
        c["Properties"]
        for c in configs.values()
        if c["Properties"]["FunctionName"] == {"Ref": "AccountMessagesFunction"}
    ]
    assert config["MaximumRetryAttempts"] == 2
    variables = transformed["Resources"]["AccountMessagesFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["MESSAGE_REPLY_FUNCTION_ARN"] == {"Ref": "MessageReplyFunctionArn"}


def test_the_message_url_output_is_written_as_pasted_into_wechats_console() -> None:
    outputs = load_template()["Outputs"]
    _, behind_the_front, direct = outputs["MessageUrl"]["Value"]["Fn::If"]  # Front=cloudfront or none
    for url in (behind_the_front["Fn::Join"][1][-1], direct["Fn::Sub"]):
        assert url.endswith("/wechat/accounts/$APPID$/messages")
    assert "消息与事件接收URL" in outputs["MessageUrl"]["Description"]


def test_the_reply_function_parameter_accepts_arns_and_nothing_else() -> None:
    pattern = re.compile(load_template()["Parameters"]["MessageReplyFunctionArn"]["AllowedPattern"])
    for good in (
        "",
        "arn:aws:lambda:cn-north-1:123456789012:function:reply",
        "arn:aws-cn:lambda:cn-north-1:123456789012:function:r:live",
    ):
        assert pattern.fullmatch(good), good
    for bad in ("reply", "arn:aws:lambda:us-east-1:123456789012:function:*", "arn:aws:s3:::bucket"):
        assert not pattern.fullmatch(bad), bad


def test_refresh_rate_and_looping_callers_have_alarms(transformed: dict[str, Any]) -> None:
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in resources_of_type(transformed, "AWS::CloudWatch::Alarm").values()
        if "MetricName" in a["Properties"]
    }
    for metric in ("ComponentTokenRefreshed", "RefreshRefusedTooYoung"):
        alarm = alarms[metric]
        assert alarm["Namespace"] == "WxComponent"
        assert alarm["Dimensions"] == [{"Name": "service", "Value": {"Ref": "AWS::StackName"}}]
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold" and alarm["TreatMissingData"] == "notBreaching"


# Route keys -> the parameter sizing each one's own throttle (review M4). Route throttles are one
# token bucket per route for every client together: no route may rely on the stage's default, so
# no two routes share one, and WeChat's are sized for a large platform (docs/deploy.md, Throttles).
ROUTE_THROTTLES = {
    "POST /wechat/component/events": "ComponentEventsRateLimit",
    "POST /wechat/accounts/{appid}/messages": "MessagesRateLimit",
    "GET /wechat/authorize": "MerchantPagesRateLimit",
    "GET /wechat/authorize/callback": "MerchantPagesRateLimit",
    "POST /tokens": "TokensRateLimit",
}


def test_every_route_has_a_throttle_of_its_own(transformed: dict[str, Any]) -> None:
    routes = {f"{method} {path}" for _, (_, paths) in FUNCTIONS.items() for method, path in paths}
    assert set(ROUTE_THROTTLES) == routes
    [stage] = resources_of_type(transformed, "AWS::ApiGatewayV2::Stage").values()
    settings = stage["Properties"]["RouteSettings"]
    assert set(settings) == routes
    for route, parameter in ROUTE_THROTTLES.items():
        assert settings[route] == {
            "ThrottlingBurstLimit": {"Ref": parameter},
            "ThrottlingRateLimit": {"Ref": parameter},
        }, route


def test_wechats_routes_are_sized_for_a_large_platform_and_the_pages_stay_low() -> None:
    parameters = load_template()["Parameters"]
    defaults = {name: parameters[name]["Default"] for name in set(ROUTE_THROTTLES.values())}
    assert defaults["MessagesRateLimit"] >= 2000  # 10,000 accounts at 0.2 messages a second each
    assert defaults["ComponentEventsRateLimit"] >= 100
    assert defaults["MerchantPagesRateLimit"] <= 10  # each load costs a WeChat call
    for name in defaults:  # API Gateway's own account-wide ceiling (10,000 a second) bounds every one
        assert parameters[name]["Type"] == "Number" and parameters[name]["MinValue"] >= 1
        assert parameters[name]["MaxValue"] <= 10000
    docs = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert all(name in docs for name in defaults)


# -- S3: concurrency, S5: the bus ------------------------------------------------------------------

PUSH_FUNCTIONS = ("ComponentEventsFunction", "AccountMessagesFunction")


def test_vending_is_capped_so_it_cannot_take_the_push_functions_concurrency(transformed: dict[str, Any]) -> None:
    """Review S3: direct Invoke of token_vending is not throttled by API Gateway, so a flood of vends
    waiting on a slow WeChat could take every free Lambda slot of the account. Its reserved
    concurrency caps it; the push functions keep no cap of ours, which would refuse WeChat at peak."""
    vending = transformed["Resources"]["TokenVendingFunction"]["Properties"]
    assert vending["ReservedConcurrentExecutions"] == {
        "Fn::If": ["CapTokenVending", {"Ref": "TokenVendingConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    assert transformed["Conditions"]["CapTokenVending"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "TokenVendingConcurrency"}, 0]}]
    }
    parameter = load_template()["Parameters"]["TokenVendingConcurrency"]
    assert parameter["MinValue"] == 0 and 0 < parameter["Default"] <= 100  # leaves 900 of a default 1,000
    for name in PUSH_FUNCTIONS:
        assert "ReservedConcurrentExecutions" not in transformed["Resources"][name]["Properties"], name


def test_only_the_stacks_own_functions_may_put_events_on_its_bus(transformed: dict[str, Any]) -> None:
    """Review S5: in the same account an identity policy alone allows PutEvents on a bus, so any
    principal with events:PutEvents on * could publish `wxcomponent` events. The bus's policy denies
    everyone but the function roles; consumers still treat events as notifications (SECURITY.md)."""
    [policy] = resources_of_type(transformed, "AWS::Events::EventBusPolicy").values()
    properties = policy["Properties"]
    assert properties["EventBusName"] == {"Ref": "EventBus"}
    statement = properties["Statement"]
    assert statement["Effect"] == "Deny" and statement["Principal"] == "*"
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"] == {"Fn::GetAtt": ["EventBus", "Arn"]}
    allowed = statement["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    publishers = {
        name
        for name in resources_of_type(transformed, "AWS::Lambda::Function")
        if BUS in _policy_actions(transformed, name)
    }
    assert publishers == set(TABLE_ACCESS)
    assert allowed == [{"Fn::GetAtt": [f"{name}Role", "Arn"]} for name in sorted(publishers)]
