"""One package per API area: thin MethodViews (routes.py) and marshmallow schemas (schemas.py)."""
