"""Local CloudFormation: deploys a template's SageMaker resources through the local SageMaker API.

Templates are rendered by cloud-radar (parameters and their constraints, conditions, every
intrinsic function); this package decides physical names, orders resources by their references,
and creates, updates, replaces and deletes them with CloudFormation's semantics.
"""
