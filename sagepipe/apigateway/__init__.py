"""Local API Gateway for SAM templates such as `chalice package` writes: each REST API is served
on its own 127.0.0.1 port by a front end that enforces IAM (SigV4) auth as API Gateway does and
invokes its routes' functions in the local Lambda runtime (sagepipe/awslambda) with the Lambda
proxy event. What is and is not emulated: frontend.py, definition.py.
"""
