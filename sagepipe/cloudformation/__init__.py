"""Local CloudFormation: a service of the local AWS (query protocol) that deploys templates with
CloudFormation's semantics.

- responses.py: the handler table (CreateStack ... ListExports).
- models.py: the API's behaviour: checks before anything starts (AWS's error texts), stack
  operations run asynchronously (one background thread per busy stack), change sets, the read
  side (stacks, events, resources, templates, exports), settling after a restart.
- stacks.py: the engine (physical names, order, create / update in place / replace, rollback,
  deletion policies, exports, delete), stack state and events in the store.
- template.py: parsing and checking (Template format errors), parameters and their
  constraints, capabilities, rendering (cloud-radar: conditions, every intrinsic function,
  imports), the reference graph.
- providers/: one resource-provider interface (base.py) and its registry (__init__.py): what each
  type's `Ref`/`Fn::GetAtt` return and how it is created, updated and deleted, through the local
  AWS's own APIs.
"""
