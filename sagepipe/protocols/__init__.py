"""Wire protocols at the edge: requests in, AWS-shaped responses and errors out."""
