"""Where the stack may run and how it reaches WeChat (issue 22): the template holds in every region
docs/deploy.md's "Where to deploy" names (cfn-lint for each; the commercial partition only: the
China regions are not claimed, and the section says why), the functions know WeChat's fallback hosts
and the stack's whitelist, and the whitelist alarm names what to compare."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from infra.local.template import ROOT, load_template

DEPLOY = ROOT / "docs" / "deploy.md"
# The regions "Where to deploy" names, in the commercial partition (aws), which the template claims.
CLAIMED = ("ap-east-1", "ap-southeast-1", "ap-northeast-1", "ap-northeast-2", "us-west-2", "eu-central-1", "us-east-1")


def section(title: str) -> str:
    text = DEPLOY.read_text(encoding="utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_the_regions_deploy_md_names_are_the_ones_checked() -> None:
    table = section("Where to deploy")
    named = re.findall(r"^\| `([a-z]{2}-[a-z]+-[0-9])` \|", table, re.MULTILINE)
    assert tuple(named) == CLAIMED
    assert "cn-north-1" in table and "not claimed" in table  # China's regions are named, and not claimed


def test_the_template_holds_in_every_claimed_region() -> None:
    lint = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--regions", *CLAIMED, "--", str(ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def whitelist_expression(none: Any) -> dict[str, Any]:
    """The WhitelistIps output's addresses, with `none` in place of its sentence for EgressMode none."""
    created = {
        "Fn::If": [
            "TwoNatGateways",
            {"Fn::Join": [",", [{"Ref": "NatAddressA"}, {"Ref": "NatAddressB"}]]},
            {"Ref": "NatAddressA"},
        ]
    }
    return {
        "Fn::If": [
            "CreateVpc",
            created,
            {"Fn::If": ["UseExistingSubnets", {"Fn::Join": [",", {"Ref": "EgressIps"}]}, none]},
        ]
    }


def test_every_function_knows_the_fallback_hosts_and_the_whitelist() -> None:
    template = load_template()
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["WECHAT_API_FALLBACKS"] == {"Ref": "WeChatApiFallbacks"}
    assert (
        template["Parameters"]["WeChatApiFallbacks"]["Default"] == ""
    )  # the core's default: api2 after WeChat's hosts
    assert variables["WHITELIST_IPS"] == whitelist_expression("")
    output = template["Outputs"]["WhitelistIps"]["Value"]
    sentence = output["Fn::If"][2]["Fn::If"][2]
    assert output == whitelist_expression(sentence)  # the same addresses the output lists


def test_the_whitelist_alarm_says_where_to_find_the_address_wechat_saw() -> None:
    alarm = load_template()["Resources"]["IpWhitelistAlarm"]["Properties"]
    text, values = alarm["AlarmDescription"]["Fn::Sub"]
    assert "client_ip" in text and "wechat call failed" in text and "wxcomponent status" in text
    assert "${Ips}" in text and values["Ips"]["Fn::If"][:2] == whitelist_expression("")["Fn::If"][:2]
    assert len(text) < 1024 - 200  # CloudFormation's limit, with room for the addresses
