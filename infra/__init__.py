"""The AWS CDK constructs of one tenant's deployment; infra.stack.ConnectorStack composes them."""
