"""CDK stacks and constructs of the JWT authentication reference stack."""
