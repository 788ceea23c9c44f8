"""Local CodePipeline: pipelines created through its API (or by the local CloudFormation from
the template), executions that run inside the local AWS, started by StartPipelineExecution or by
a `git push` to the local Git remote of the pipeline's source (git.py), and the API to follow,
stop, retry and approve them."""
