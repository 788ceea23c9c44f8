"""Local CloudFormation: deploys templates into the local AWS with CloudFormation's semantics.

- template.py: parsing and rendering (cloud-radar: parameters and their constraints,
  conditions, every intrinsic function), the reference graph.
- stacks.py: the engine (physical names, order, create / update in place / replace, rollback,
  delete), stack state and events in the store.
- providers/: one resource-provider interface (base.py) and its registry (__init__.py): what each
  type's `Ref`/`Fn::GetAtt` return and how it is created, updated and deleted.
"""
