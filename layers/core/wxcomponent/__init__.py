"""wxcomponent: the core of the token center for a WeChat Open Platform third-party platform.

It knows nothing of Lambda events: entry points in `functions/` call it, adapters in
`wxcomponent.adapters` connect it to DynamoDB, WeChat and Secrets Manager.
"""
