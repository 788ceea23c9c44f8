"""Local SageMaker: control plane (jobs, models, endpoints) whose jobs and endpoints really run."""
