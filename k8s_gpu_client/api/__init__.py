"""The client's namespaces, one module per API area."""
