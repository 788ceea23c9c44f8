"""ECR for the local registry: log-in tokens and image look-ups by tag.

Images themselves live in the local image registry (`sagepipe.images`), filled by the local
CodeBuild's `docker build/tag/push` or `sagepipe image register`.
"""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any

from sagepipe.config import ACCOUNT_ID, Settings
from sagepipe.ecr.exceptions import ImageNotFoundException
from sagepipe.images import ImageRegistry


class Ecr:
    def __init__(self, settings: Settings, images: ImageRegistry) -> None:
        self.settings = settings
        self.images = images

    @property
    def registry_host(self) -> str:
        return f"{ACCOUNT_ID}.dkr.ecr.{self.settings.region}.amazonaws.com"

    def get_authorization_token(self, params: dict[str, Any]) -> dict[str, Any]:
        token = base64.b64encode(f"AWS:{secrets.token_hex(16)}".encode()).decode()
        return {"authorizationData": [{"authorizationToken": token,
                                       "expiresAt": time.time() + 12 * 3600,
                                       "proxyEndpoint": f"https://{self.registry_host}"}]}

    def describe_images(self, params: dict[str, Any]) -> dict[str, Any]:
        repository = params["repositoryName"]
        registered = {uri for uri, _ in self.images.all()}
        details = []
        for image_id in params.get("imageIds") or []:
            uri = f"{self.registry_host}/{repository}:{image_id.get('imageTag', '')}"
            if uri not in registered:
                raise ImageNotFoundException(f"The image with imageId {image_id} does not exist "
                                             f"within the repository with name '{repository}'")
            details.append({"registryId": ACCOUNT_ID, "repositoryName": repository,
                            "imageTags": [image_id["imageTag"]]})
        return {"imageDetails": details}
