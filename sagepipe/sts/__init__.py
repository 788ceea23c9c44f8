"""The local STS: who calls (GetCallerIdentity) and role sessions (AssumeRole) whose
credentials the local AWS accepts, derived from the home's own secret (sessions.py)."""
