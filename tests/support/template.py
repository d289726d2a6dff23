"""template.yaml as the SAM transform makes it (what `sam deploy` would create), without AWS: the
infra ring's modules read it through a module fixture of their own, each a copy of one transform."""

from __future__ import annotations

import copy
import functools
from typing import Any

import pytest
from samtranslator.translator.transform import transform

from infra.local.template import load_template


class _NoManagedPolicies:
    """We use inline policies only, so the transform needs no IAM look-ups."""

    def load(self) -> dict[str, str]:
        return {}


@functools.cache
def _transformed_once() -> dict[str, Any]:
    template = copy.deepcopy(load_template())
    for resource in template["Resources"].values():  # what `sam package` does to local paths
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in properties:
                properties[key] = f"s3://artifacts/{properties[key]}.zip"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        result: dict[str, Any] = transform(template, {}, _NoManagedPolicies())
    return result


def transformed_template() -> dict[str, Any]:
    """The transform's output, a copy of the caller's own: what one test changes, no other sees."""
    return copy.deepcopy(_transformed_once())
