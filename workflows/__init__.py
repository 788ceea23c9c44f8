"""The seed ML workflows, written with `ds_stepfunctions`, one module each.

`python -m workflows.<name>` uploads the workflow's data, creates (or updates) its state machine
and runs it, against AWS or the local AWS alike: endpoint and credentials come from the
environment (boto3's chain, `AWS_ENDPOINT_URL`). Each module also exports its CloudFormation
stack (`get_cloudformation_template()`, written to `workflows/templates/` by
`python -m workflows.export`). README.md says what each does and how to run it.
"""
