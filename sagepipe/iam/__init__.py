"""The local IAM: roles and policies recorded, and evaluated on request (SimulatePrincipalPolicy),
never enforced: the local AWS lets every call signed with its home's credentials through."""
