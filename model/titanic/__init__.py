"""Titanic survival: the example model behind sagepipe's SageMaker container contract.

Entry points (`prepare`, `train`, `serve` beside this package) call into `prepare`, `train` and
`serve` here; `schema` holds the one definition of a valid passenger row they all share.
"""
