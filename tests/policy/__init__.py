"""Security and release policies of the templates, proven to catch planted defects."""
