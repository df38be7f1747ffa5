"""Outgoing webhooks: payload signing, the guard against server-side request forgery, the HTTP
sender and the outbox dispatcher. Imports the store, never the services or Flask."""
