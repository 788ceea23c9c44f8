"""Local SNS: topics and subscriptions in the store; email deliveries written as .eml files to
the home's outbox (`.sagepipe/outbox/`), Lambda deliveries as asynchronous invokes of the local
Lambda. What the pipeline's manual approval publishes to, and what a stack's
`AWS::SNS::Topic` / `AWS::SNS::Subscription` create.

- models.py: topics, subscriptions, attributes, tags, Publish and its checks.
- delivery.py: the emails SNS sends (subscription confirmation, notification) and the Lambda
  event, and where they go.
- responses.py: the handler table (query protocol).
"""
