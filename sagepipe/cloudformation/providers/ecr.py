"""ECR repositories, created for real in the local ECR through its API; the images pushed under a
repository's URI (the local CodeBuild's `docker push`, `sagepipe image register`) are its
images. Lifecycle and repository policies are recorded: the local registry keeps every image."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from sagepipe.cloudformation.providers.base import (
    Context,
    ResourceFailed,
    ResourceProvider,
    call,
    fixed_name,
    generated_name,
    note_recorded,
)


class Repository(ResourceProvider):
    """`Ref` is the repository name; its name and encryption are fixed at creation. Deleting a
    repository that holds images fails unless EmptyOnDelete is true, as in AWS."""

    type_name, name_property = "AWS::ECR::Repository", "RepositoryName"
    emulated = True

    def physical_name(self, logical_id: str, props: dict[str, Any]) -> str:
        return str(fixed_name(self, props) or generated_name(logical_id, 256).lower())

    def replaces_on_change(self, prop: str) -> bool:
        return prop in ("RepositoryName", "EncryptionConfiguration")

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {"Arn": ctx.arn("ecr", f"repository/{name}"),
                "RepositoryUri": f"{ctx.account}.dkr.ecr.{ctx.region}.amazonaws.com/{name}"}

    def create(self, ctx: Context, name: str, props: dict[str, Any]) -> None:
        params: dict[str, Any] = {"repositoryName": name}
        if "ImageTagMutability" in props:
            params["imageTagMutability"] = props["ImageTagMutability"]
        if "ImageScanningConfiguration" in props:
            params["imageScanningConfiguration"] = scanning(props)
        if "EncryptionConfiguration" in props:
            encryption = props["EncryptionConfiguration"]
            params["encryptionConfiguration"] = {
                "encryptionType": encryption["EncryptionType"],
                **({"kmsKey": encryption["KmsKey"]} if encryption.get("KmsKey") else {})}
        if props.get("Tags"):
            params["tags"] = props["Tags"]
        call(ctx.client("ecr").create_repository, **params)
        note_recorded(ctx, props, ("LifecyclePolicy", "RepositoryPolicyText"), "ECR")

    def update(self, ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        ecr = ctx.client("ecr")
        if new.get("ImageTagMutability", "MUTABLE") != old.get("ImageTagMutability", "MUTABLE"):
            call(ecr.put_image_tag_mutability, repositoryName=name,
                 imageTagMutability=new.get("ImageTagMutability", "MUTABLE"))
        if scanning(new) != scanning(old):
            call(ecr.put_image_scanning_configuration, repositoryName=name,
                 imageScanningConfiguration=scanning(new))
        note_recorded(ctx, new, ("LifecyclePolicy", "RepositoryPolicyText"), "ECR")

    def delete(self, ctx: Context, name: str) -> None:
        force = str(ctx.properties.get("EmptyOnDelete", "false")).lower() == "true"
        try:
            ctx.client("ecr").delete_repository(repositoryName=name, force=force)
        except ClientError as exc:
            error = exc.response["Error"]
            if error.get("Code") != "RepositoryNotFoundException":
                raise ResourceFailed(f"{error.get('Code')}: {error.get('Message')}") from None


def scanning(props: dict[str, Any]) -> dict[str, bool]:
    configured = props.get("ImageScanningConfiguration") or {}
    return {"scanOnPush": str(configured.get("ScanOnPush", "false")).lower() == "true"}
