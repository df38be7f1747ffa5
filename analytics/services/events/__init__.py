"""Events out: the recorder and its outbox, webhooks, and the Alertmanager receiver's mapping."""
