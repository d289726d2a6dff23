"""The optional front (review M4): CloudFront with AWS WAF before the HTTP API, for vendors who
need limits per client. API Gateway's throttles are one bucket per route for every client, and
AWS WAF cannot be attached to an HTTP API, so the front is CloudFront (whose WAF web ACL lives in
us-east-1: front-waf.yaml), with the execute-api endpoint disabled so it cannot be gone around."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

import pytest

from infra.local.template import ROOT, load_template, resources_of_type
from tests.support.template import transformed_template

WAF_TEMPLATE = ROOT / "infra" / "front-waf.yaml"
PAGES = ("GET /wechat/authorize", "GET /wechat/authorize/callback")
WECHAT_ROUTES = ("POST /wechat/component/events", "POST /wechat/accounts/{appid}/messages")
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CloudFront's managed cache policy
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # managed origin request policy


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    return transformed_template()


@pytest.fixture(scope="module")
def waf() -> dict[str, Any]:
    return load_template(WAF_TEMPLATE)


def routes() -> set[str]:
    template = load_template()
    return {
        f"{event['Properties']['Method'].upper()} {event['Properties']['Path']}"
        for resource in resources_of_type(template, "AWS::Serverless::Function").values()
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "HttpApi"
    }


# -- the stack ------------------------------------------------------------------------------------


def test_the_front_is_a_parameter_off_by_default() -> None:
    template = load_template()
    front = template["Parameters"]["Front"]
    assert front["AllowedValues"] == ["none", "cloudfront"] and front["Default"] == "none"
    assert template["Conditions"]["HasFront"] == {"Fn::Equals": [{"Ref": "Front"}, "cloudfront"]}
    conditional = {name for name, r in template["Resources"].items() if r.get("Condition") in ("HasFront",)}
    assert conditional == {"FrontDistribution", "FrontOriginDomain", "FrontOriginMapping"}


def test_with_the_front_the_execute_api_endpoint_is_disabled(transformed: dict[str, Any]) -> None:
    """Else anyone could go around the web ACL to https://<api>.execute-api…"""
    [api] = resources_of_type(transformed, "AWS::ApiGatewayV2::Api").values()
    [server] = api["Properties"]["Body"]["servers"]
    assert server["x-amazon-apigateway-endpoint-configuration"] == {
        "disableExecuteApiEndpoint": {"Fn::If": ["HasFront", True, False]}
    }


def test_cloudfront_reaches_the_api_through_its_custom_domain_behind_the_web_acl(transformed: dict[str, Any]) -> None:
    resources = transformed["Resources"]
    domain = resources["FrontOriginDomain"]["Properties"]
    assert domain["DomainName"] == {"Ref": "FrontOriginDomainName"}
    [configuration] = domain["DomainNameConfigurations"]
    assert configuration == {
        "CertificateArn": {"Ref": "FrontOriginCertificateArn"},
        "EndpointType": "REGIONAL",
        "SecurityPolicy": "TLS_1_2",
    }
    mapping = resources["FrontOriginMapping"]["Properties"]
    assert mapping["ApiId"] == {"Ref": "HttpApi"} and mapping["DomainName"] == {"Ref": "FrontOriginDomain"}
    assert mapping["Stage"] == {"Ref": "HttpApiApiGatewayDefaultStage"}
    assert "ApiMappingKey" not in mapping  # the routes' paths are the handlers' paths

    config = resources["FrontDistribution"]["Properties"]["DistributionConfig"]
    assert config["WebACLId"] == {"Ref": "FrontWebAclArn"}
    # Per-address limits mean nothing over IPv6, where one client holds billions of addresses.
    assert config["IPV6Enabled"] is False
    [origin] = config["Origins"]
    assert origin["DomainName"] == {"Ref": "FrontOriginDomainName"}
    custom = origin["CustomOriginConfig"]
    assert custom["OriginProtocolPolicy"] == "https-only" and custom["OriginSSLProtocols"] == ["TLSv1.2"]
    longest = max(resources[f]["Properties"]["Timeout"] for f in ("AuthorizationFunction", "TokenVendingFunction"))
    assert custom["OriginReadTimeout"] > longest  # the callback may wait 29 s for the push's exchange
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["TargetOriginId"] == origin["Id"]
    assert behaviour["ViewerProtocolPolicy"] == "https-only"  # a redirect would lose WeChat's POST
    assert {"GET", "POST"} <= set(behaviour["AllowedMethods"])
    assert behaviour["CachePolicyId"] == CACHING_DISABLED  # every answer is per request
    assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST  # query, cookies; the API's own Host
    assert "CacheBehaviors" not in config


def test_the_urls_wechat_and_merchants_are_given_are_the_fronts(transformed: dict[str, Any]) -> None:
    outputs = load_template()["Outputs"]
    front = {
        "Fn::If": [
            "HasFrontAlias",
            {"Fn::Sub": "https://${FrontDomainName}"},
            {"Fn::Sub": "https://${FrontDistribution.DomainName}"},
        ]
    }
    for name, path in (
        ("ApiUrl", ""),
        ("AuthorizationEventUrl", "/wechat/component/events"),
        ("MessageUrl", "/wechat/accounts/$APPID$/messages"),
        ("AuthorizationStartUrl", "/wechat/authorize"),
    ):
        condition, with_front, without = outputs[name]["Value"]["Fn::If"]
        assert condition == "HasFront"
        assert with_front == {"Fn::Join": ["", [front, path]]}, name
        assert without == {"Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}" + path}
    condition, with_front, _ = outputs["TokensUrl"]["Value"]["Fn::If"]
    assert condition == "HasFront" and with_front.startswith("none:")  # SigV4 cannot pass CloudFront
    assert outputs["FrontOriginTarget"]["Condition"] == "HasFront"
    # The pages build the callback URL and the links back from PUBLIC_BASE_URL: the front's, unless given.
    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["PUBLIC_BASE_URL"] == {"Fn::If": ["UseFrontAsPublicBaseUrl", front, {"Ref": "PublicBaseUrl"}]}
    assert load_template()["Conditions"]["UseFrontAsPublicBaseUrl"] == {
        "Fn::And": [{"Condition": "HasFront"}, {"Fn::Equals": [{"Ref": "PublicBaseUrl"}, ""]}]
    }


def test_the_front_cannot_be_chosen_without_its_web_acl_origin_domain_and_certificates() -> None:
    template = load_template()
    rule = template["Rules"]["FrontIsComplete"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "Front"}, "cloudfront"]}
    asserted = json.dumps([a["Assert"] for a in rule["Assertions"]])
    for parameter in ("FrontWebAclArn", "FrontOriginDomainName", "FrontOriginCertificateArn", "FrontCertificateArn"):
        assert f'{{"Ref": "{parameter}"}}' in asserted
    pattern = re.compile(template["Parameters"]["FrontWebAclArn"]["AllowedPattern"])
    assert pattern.fullmatch("")
    assert pattern.fullmatch(
        "arn:aws:wafv2:us-east-1:123456789012:global/webacl/wxcomponent/1f2e3d4c-5b6a-4789-8a7b-6c5d4e3f2a1b"
    )
    assert not pattern.fullmatch(
        "arn:aws:wafv2:ap-east-1:123456789012:regional/webacl/x/1f2e3d4c-5b6a-4789-8a7b-6c5d4e3f2a1b"
    )
    certificate = re.compile(template["Parameters"]["FrontCertificateArn"]["AllowedPattern"])
    assert certificate.fullmatch("arn:aws:acm:us-east-1:123456789012:certificate/1f2e3d4c-5b6a-4789-8a7b-6c5d4e3f2a1b")
    assert not certificate.fullmatch(
        "arn:aws:acm:ap-east-1:123456789012:certificate/1f2e3d4c-5b6a-4789-8a7b-6c5d4e3f2a1b"
    )


# -- the web ACL (front-waf.yaml, in us-east-1) ------------------------------------------------------


def _rules(waf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [acl] = resources_of_type(waf, "AWS::WAFv2::WebACL").values()
    return {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}


def test_the_web_acl_is_cloudfronts_and_must_be_made_in_us_east_1(waf: dict[str, Any]) -> None:
    [acl] = resources_of_type(waf, "AWS::WAFv2::WebACL").values()
    assert acl["Properties"]["Scope"] == "CLOUDFRONT" and acl["Properties"]["DefaultAction"] == {"Allow": {}}
    [ips] = resources_of_type(waf, "AWS::WAFv2::IPSet").values()
    assert ips["Properties"]["Scope"] == "CLOUDFRONT" and ips["Properties"]["IPAddressVersion"] == "IPV4"
    assert ips["Properties"]["Addresses"] == {"Ref": "WeChatCallbackCidrs"}
    [assertion] = waf["Rules"]["InUsEast1"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
    assert waf["Outputs"]["WebAclArn"]["Value"] == {
        "Fn::GetAtt": [next(iter(resources_of_type(waf, "AWS::WAFv2::WebACL"))), "Arn"]
    }


def _starts_with(statement: dict[str, Any]) -> str:
    match = statement["ByteMatchStatement"]
    assert match["FieldToMatch"] == {"UriPath": {}} and match["PositionalConstraint"] == "STARTS_WITH"
    assert match["TextTransformations"] == [{"Priority": 0, "Type": "NONE"}]  # an encoded path fails closed
    value: str = match["SearchString"]
    return value


def test_only_wechats_addresses_reach_anything_but_the_merchant_pages(waf: dict[str, Any]) -> None:
    """WeChat's pushes come from its published callback addresses (getcallbackip); from anywhere
    else only the merchant pages can be reached, so the push routes, POST /tokens (whose SigV4
    cannot pass CloudFront) and any other path are blocked at the edge."""
    rule = _rules(waf)["OnlyWeChatBeyondTheMerchantPages"]
    assert rule["Priority"] == 0 and rule["Action"] == {"Block": {}}
    outside_wechat, not_a_page = rule["Statement"]["AndStatement"]["Statements"]
    [ip_set] = resources_of_type(waf, "AWS::WAFv2::IPSet")
    assert outside_wechat == {
        "NotStatement": {"Statement": {"IPSetReferenceStatement": {"Arn": {"Fn::GetAtt": [ip_set, "Arn"]}}}}
    }
    prefix = _starts_with(not_a_page["NotStatement"]["Statement"])
    assert {route for route in routes() if route.split(" ", 1)[1].startswith(prefix)} == set(PAGES)
    assert routes() == set(PAGES) | set(WECHAT_ROUTES) | {"POST /tokens"}


def test_each_client_address_gets_a_bounded_number_of_merchant_pages(waf: dict[str, Any]) -> None:
    rule = _rules(waf)["MerchantPagesPerAddress"]
    assert rule["Priority"] == 1 and rule["Action"] == {"Block": {}}
    rate = rule["Statement"]["RateBasedStatement"]
    assert rate["AggregateKeyType"] == "IP" and rate["Limit"] == {"Ref": "MerchantPagesPerAddress"}
    assert rate["EvaluationWindowSec"] == 300
    assert _starts_with(rate["ScopeDownStatement"]) == "/wechat/authorize"
    limit = waf["Parameters"]["MerchantPagesPerAddress"]
    assert limit["MinValue"] >= 10 and 10 <= limit["Default"] <= 300  # WAF's minimum; an office behind one NAT


def test_no_sampled_request_can_show_an_authorization_code(waf: dict[str, Any]) -> None:
    """The callback's query holds the single-use code; sampled requests would show it in the console."""
    [acl] = resources_of_type(waf, "AWS::WAFv2::WebACL").values()
    configs = [acl["Properties"]["VisibilityConfig"], *(r["VisibilityConfig"] for r in _rules(waf).values())]
    assert all(c["SampledRequestsEnabled"] is False and c["CloudWatchMetricsEnabled"] is True for c in configs)
    assert not resources_of_type(waf, "AWS::WAFv2::LoggingConfiguration")


def test_the_documented_way_to_turn_getcallbackip_into_cidrs_gives_what_waf_takes() -> None:
    """docs/deploy.md's one-liner: WeChat answers plain addresses and ranges; an IP set takes CIDRs."""
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    [line] = [x for x in deploy.splitlines() if "ip_list" in x and "print(" in x]
    expression = line[line.index("print(") + len("print(") : line.rindex(")")]
    answer = {"ip_list": ["101.226.103.0/25", "101.226.62.77", "59.37.96.63"]}
    cidrs = eval(expression, {}, {"answer": answer}).split(",")  # our own docs, run as a reader would
    assert cidrs == ["101.226.103.0/25", "101.226.62.77/32", "59.37.96.63/32"]
    assert all(ipaddress.ip_network(cidr) for cidr in cidrs)
