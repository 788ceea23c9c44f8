"""Local ECR: only what a build needs to log in (`aws ecr get-login-password`).

Images themselves live in the local image registry (`sagepipe.images`), filled by the local
CodeBuild's `docker build/tag/push` or `sagepipe image register`.
"""
