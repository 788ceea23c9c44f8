"""KMS keys and aliases, recorded with their identities (the local AWS encrypts nothing with
them): a key's `Ref` is its key id, as in AWS, an alias's `Ref` its name."""

from __future__ import annotations

import uuid
from typing import Any

from sagepipe.cloudformation.providers.base import Context, ResourceProvider


class Key(ResourceProvider):
    type_name = "AWS::KMS::Key"

    def physical_name(self, logical_id: str, props: dict[str, Any]) -> str:
        return str(uuid.uuid4())

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {"Arn": ctx.arn("kms", f"key/{name}"), "KeyId": name}


class Alias(ResourceProvider):
    type_name, name_property = "AWS::KMS::Alias", "AliasName"
