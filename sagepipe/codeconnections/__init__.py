"""Local CodeConnections (formerly CodeStar Connections): the connections a pipeline's source
action names. Locally the Git host is the local AWS itself (a bare repository it serves per
FullRepositoryId, see sagepipe/codepipeline/git.py), so a connection is AVAILABLE at once: there
is no handshake with GitHub to complete."""
