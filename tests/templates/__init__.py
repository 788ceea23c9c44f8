"""Checks of the cloud definition: CloudFormation templates, stage configurations, buildspecs."""
