"""Code shared by the Lambda functions: the claims module and small helpers."""
