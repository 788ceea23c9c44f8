"""Local API Gateway + Lambda for SAM templates such as `chalice package` writes: each REST API
runs its function's deployment package in a process on 127.0.0.1 (chalice.local), with IAM
(SigV4) auth enforced as in AWS. What is and is not emulated: host.py, definition.py, sigv4.py.
"""
