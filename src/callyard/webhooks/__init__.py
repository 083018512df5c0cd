"""Webhooks: the call-state and call-record callbacks, signed, durable and retried.

`settings` holds each company's URLs and signing secret, `outbox` writes events to the
store (the call record's in the same transaction as the CDR), `delivery` sends them,
`signing` computes and checks the signature headers.
"""
