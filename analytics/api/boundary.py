"""What every request must satisfy before a view sees it, checked once here and not per route.

- No redirect is built from the Host header: werkzeug's routing answers a path with doubled
  slashes (merge_slashes) or a missing trailing slash (strict_slashes) with a 308 to
  ``http://<Host>/<normalised path>``, an open redirect for any client that sets ``Host``. Such
  paths are 404 ``RESOURCE_NOT_FOUND`` instead, like any other unknown path.
- Each query parameter of an API request comes at most once: ``?hours=1&hours=720`` is 400
  ``INVALID_PARAMETER`` (webargs would take the first value and a proxy or cache the last). No
  query schema takes a list; one that did would have to be allowed repeats here.
- A JSON body nests at most ``MAX_JSON_DEPTH`` arrays and objects: deeper ones are 400
  ``VALIDATION_ERROR`` before any parser recurses into them (Python's ``json`` raises
  RecursionError near depth 1000, which used to answer 500 on every write).
"""

from __future__ import annotations

import re
from itertools import accumulate

from flask import Flask, request
from werkzeug.exceptions import NotFound
from werkzeug.routing import RequestRedirect

from analytics.api.auth import API_PREFIX
from analytics.errors import InvalidParameter, ValidationFailed

# The deepest body we take is the Alertmanager notification (4 levels); 32 leaves room.
MAX_JSON_DEPTH = 32

# A JSON string, escapes included. An unterminated one runs to the end of the body (``\Z``):
# every match succeeds where it starts, so the scan stays linear whatever the body holds.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = tuple(1 if b in b"[{" else -1 for b in range(256))


def json_depth(body: bytes) -> int:
    """How deep arrays and objects nest in ``body`` (0 for a scalar), without parsing it.

    Brackets inside strings do not count. Malformed JSON gets some number; its parser refuses it.
    """
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(accumulate(map(_STEP.__getitem__, brackets)))


def init_request_boundary(app: Flask) -> None:
    @app.before_request
    def _boundary() -> None:
        if isinstance(request.routing_exception, RequestRedirect):
            raise NotFound()
        if request.path.startswith(API_PREFIX):
            repeated = sorted(name for name, values in request.args.lists() if len(values) > 1)
            if repeated:
                raise InvalidParameter(
                    f"Query parameters may be given once each: {', '.join(repeated)}.",
                    {name: ["Given more than once."] for name in repeated},
                )
        if request.is_json and json_depth(request.get_data(cache=True)) > MAX_JSON_DEPTH:
            raise ValidationFailed(
                f"The JSON body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep.",
                {"maxDepth": MAX_JSON_DEPTH},
            )
