"""ECR for the local registry: repositories, the images registered under their URIs, log-in
tokens.

A repository's images are the local images (`sagepipe.images`) whose URI is
`<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>`. As a local convenience that
AWS does not offer, a repository also "exists" for DescribeImages when images were pushed under
its URI without creating it first (the local `docker push` does not check, so a build that runs
without the pipeline stack still finds its image).
"""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any

from sagepipe.config import ACCOUNT_ID, Settings, arn
from sagepipe.documents import Document, Documents
from sagepipe.ecr.exceptions import (
    ImageNotFoundException,
    InvalidParameterException,
    RepositoryAlreadyExistsException,
    RepositoryNotEmptyException,
    RepositoryNotFoundException,
)
from sagepipe.images import ImageRegistry

PAGE = 100
MAX_TAGS = 50


class Ecr:
    def __init__(self, settings: Settings, images: ImageRegistry) -> None:
        self.settings = settings
        self.images = images
        self.repositories = Documents(images.store, "ecr_repositories",
                                      not_found=RepositoryNotFoundException,
                                      in_use=RepositoryAlreadyExistsException)

    @property
    def registry_host(self) -> str:
        return f"{ACCOUNT_ID}.dkr.ecr.{self.settings.region}.amazonaws.com"

    def get_authorization_token(self, params: dict[str, Any]) -> dict[str, Any]:
        token = base64.b64encode(f"AWS:{secrets.token_hex(16)}".encode()).decode()
        return {"authorizationData": [{"authorizationToken": token,
                                       "expiresAt": time.time() + 12 * 3600,
                                       "proxyEndpoint": f"https://{self.registry_host}"}]}

    # -- repositories ----------------------------------------------------------------------
    def create_repository(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["repositoryName"]
        tags = params.get("tags") or []
        if len(tags) > MAX_TAGS:
            raise InvalidParameterException(f"Invalid parameter at 'tags' failed to satisfy "
                                            f"constraint: 'Member must have at most {MAX_TAGS} "
                                            "items'")
        repository = {
            "repositoryArn": arn("ecr", f"repository/{name}", self.settings.region),
            "registryId": ACCOUNT_ID, "repositoryName": name,
            "repositoryUri": f"{self.registry_host}/{name}", "createdAt": time.time(),
            "imageTagMutability": params.get("imageTagMutability", "MUTABLE"),
            "imageScanningConfiguration": params.get("imageScanningConfiguration",
                                                     {"scanOnPush": False}),
            "encryptionConfiguration": params.get("encryptionConfiguration",
                                                  {"encryptionType": "AES256"}),
            "tags": tags}
        if self.repositories.find("repository", name) is not None:
            raise RepositoryAlreadyExistsException(
                f"The repository with name '{name}' already exists in the registry with id "
                f"'{ACCOUNT_ID}'")
        self.repositories.create("repository", name, repository)
        return {"repository": public(repository)}

    def describe_repositories(self, params: dict[str, Any]) -> dict[str, Any]:
        names = params.get("repositoryNames")
        if names:
            found = [self._repository(name) for name in names]
        else:
            found = sorted(self.repositories.all("repository"),
                           key=lambda r: r["repositoryName"])
        start = int(params.get("nextToken") or 0) if str(params.get("nextToken") or 0
                                                          ).isdigit() else -1
        if start < 0:
            raise InvalidParameterException("Invalid parameter at 'nextToken': pass the "
                                            "nextToken of the previous page.")
        size = params.get("maxResults") or PAGE
        answer: dict[str, Any] = {"repositories": [public(r) for r in
                                                   found[start:start + size]]}
        if start + size < len(found):
            answer["nextToken"] = str(start + size)
        return answer

    def delete_repository(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["repositoryName"]
        repository = self._repository(name)
        images = self._images_of(name)
        if images and not params.get("force"):
            raise RepositoryNotEmptyException(
                f"The repository with name '{name}' in registry with id '{ACCOUNT_ID}' cannot "
                "be deleted because it still contains images")
        for uri in images:
            self.images.forget(uri)
        self.repositories.delete("repository", name)
        return {"repository": public(repository)}

    def put_image_tag_mutability(self, params: dict[str, Any]) -> dict[str, Any]:
        def change(repository: Document) -> None:
            repository["imageTagMutability"] = params["imageTagMutability"]
        self._repository(params["repositoryName"])
        self.repositories.update("repository", params["repositoryName"], change)
        return {"registryId": ACCOUNT_ID, "repositoryName": params["repositoryName"],
                "imageTagMutability": params["imageTagMutability"]}

    def put_image_scanning_configuration(self, params: dict[str, Any]) -> dict[str, Any]:
        def change(repository: Document) -> None:
            repository["imageScanningConfiguration"] = params["imageScanningConfiguration"]
        self._repository(params["repositoryName"])
        self.repositories.update("repository", params["repositoryName"], change)
        return {"registryId": ACCOUNT_ID, "repositoryName": params["repositoryName"],
                "imageScanningConfiguration": params["imageScanningConfiguration"]}

    # -- images ----------------------------------------------------------------------------
    def describe_images(self, params: dict[str, Any]) -> dict[str, Any]:
        repository = params["repositoryName"]
        images = self._images_of(repository)
        if not images and self.repositories.find("repository", repository) is None:
            raise self._missing(repository)
        wanted = params.get("imageIds")
        if wanted:
            for image_id in wanted:
                if self._uri(repository, image_id) not in images:
                    raise ImageNotFoundException(
                        f"The image with imageId {image_id} does not exist within the "
                        f"repository with name '{repository}' in the registry with id "
                        f"'{ACCOUNT_ID}'")
            chosen = [self._uri(repository, image_id) for image_id in wanted]
        else:
            chosen = images
        return {"imageDetails": [{"registryId": ACCOUNT_ID, "repositoryName": repository,
                                  **image_id_of(uri)} for uri in chosen]}

    def list_images(self, params: dict[str, Any]) -> dict[str, Any]:
        repository = params["repositoryName"]
        images = self._images_of(repository)
        if not images and self.repositories.find("repository", repository) is None:
            raise self._missing(repository)
        return {"imageIds": [{"imageTag": tag} if (tag := (image_id_of(uri).get("imageTags")
                                                            or [None])[0]) else image_id_of(uri)
                             for uri in images]}

    # -- look-ups --------------------------------------------------------------------------
    def _repository(self, name: str) -> Document:
        repository = self.repositories.find("repository", name)
        if repository is None:
            raise self._missing(name)
        return repository

    def _missing(self, name: str) -> RepositoryNotFoundException:
        return RepositoryNotFoundException(f"The repository with name '{name}' does not exist "
                                           f"in the registry with id '{ACCOUNT_ID}'")

    def _images_of(self, repository: str) -> list[str]:
        prefix = f"{self.registry_host}/{repository}"
        return [uri for uri, _directory in self.images.all()
                if uri.startswith((f"{prefix}:", f"{prefix}@"))]

    def _uri(self, repository: str, image_id: dict[str, str]) -> str:
        if image_id.get("imageTag"):
            return f"{self.registry_host}/{repository}:{image_id['imageTag']}"
        return f"{self.registry_host}/{repository}@{image_id.get('imageDigest', '')}"


def image_id_of(uri: str) -> dict[str, Any]:
    """The image id ECR reports for a registered URI: its tag, or its digest."""
    if "@" in uri:
        return {"imageDigest": uri.rsplit("@", 1)[1]}
    return {"imageTags": [uri.rsplit(":", 1)[1]]} if ":" in uri.rsplit("/", 1)[1] else {}


def public(repository: Document) -> Document:
    return {k: v for k, v in repository.items() if k != "tags"}
