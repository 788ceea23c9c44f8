"""The errors the old SDK declared, by the same names."""


class DuplicateStatesInChain(Exception):
    """A state appears twice in one Chain."""


class WorkflowNotFound(Exception):
    """The Workflow object points at no state machine yet: create() or attach() it first."""


class MissingRequiredParameter(Exception):
    """A call lacks an argument it needs (e.g. update() with neither definition nor role)."""
