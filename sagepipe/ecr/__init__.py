"""Local ECR: repositories (what a stack's `AWS::ECR::Repository` creates), the images pushed
under a repository's URI, and what a build needs to log in (`aws ecr get-login-password`).

Images themselves live in the local image registry (`sagepipe.images`), filled by the local
CodeBuild's `docker build/tag/push` or `sagepipe image register`.
"""
