"""Local CodePipeline: runs the stages and actions of `CodePipeline/pipeline.yaml` in order,
passing artifacts and variables between them as CodePipeline does."""
