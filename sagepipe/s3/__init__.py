"""The local S3: `models.S3Backend` (state and behaviour), `responses.S3Service` (the wire)."""
