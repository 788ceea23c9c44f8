"""Local Step Functions: the service (`models.py` state and behaviour, `responses.py` its
handler table, `exceptions.py` its errors, `records.py` its tables, `runs.py` the executions
under way, `arns.py` and `paging.py`), our own Amazon States Language interpreter (`asl/`)
and the service integrations its Task states call (`integrations.py`).

Why our own interpreter rather than moto's (LocalStack's, ported), as measured with moto 5.2.5
on a 2-core machine:
- cost: importing moto's interpreter takes ~2.5 s and ~195 MB on every start of the local
  AWS, and puts a test-mocking library in the product's runtime;
- stability: its internal hooks (`boto_client_for`, `Environment.__init__`) changed
  signatures across minor versions; every upgrade would need the adapter rewritten;
- defects we would have to patch and keep patched: JSONPath `$.a[0].b` returns a list (a
  numeric Choice on a training metric silently takes its Default), StartAt is checked only at
  run time, `States.ALL` catches `States.Runtime`, no ItemBatcher, no SageMaker `.sync`;
- persistence: it keeps executions in memory; ours hands every history event to a sink as it
  happens (the service writes it to the SQLite store), so that a restart of the local AWS
  finds each execution's history and can end the ones that were running cleanly.
The language here is the JSONPath dialect, all of it that the issue lists; QueryLanguage
JSONata and workflow variables (`Assign`) are refused at validation with a clear message.

How the service layer uses it:

    machine = parse_definition(definition)          # DefinitionError -> InvalidDefinition
    execution = Execution(machine, input, ExecutionInfo(...), runner=AwsIntegrations(clients),
                          sink=store_event, on_end=record_outcome)
    execution.start()                                # StartExecution (or .run(): sync)
    execution.stop(error, cause)                     # StopExecution
"""
