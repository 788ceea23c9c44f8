"""Local CodeBuild: build projects, and builds that run a buildspec with CodeBuild's phase
semantics in a shell of the project's venv (the local build image), inside the local AWS."""
