"""Which characters a name or label may hold: none that hides, reorders or breaks the text.

Names are stored and echoed to people (the API, logs, Slack and Teams messages through webhooks),
so these are refused in every name-like request field (``analytics.api.fields.Text``) and in API
key names:

- control characters, Unicode category Cc: the C0 set (NUL, tab, line feed, escape, ...), DEL
  and the C1 set. Multi-line text (alert annotations) may hold tab, line feed and carriage
  return;
- lone surrogates, category Cs (JSON's ``\\ud800`` escape makes one; no database encodes it);
- the line and paragraph separators U+2028 and U+2029;
- bidirectional formatting: U+061C, U+200E, U+200F, U+202A-U+202E and U+2066-U+2069, which
  make text display in another order than it is stored ("Trojan Source").
"""

from __future__ import annotations

import unicodedata

BIDI_FORMATTING = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_MULTILINE = frozenset("\t\n\r")


def refused_characters(text: str, *, multiline: bool = False) -> list[str]:
    """The characters of ``text`` a name may not hold, as ``U+XXXX``, each once, in order."""
    found: list[str] = []
    for char in text:
        if char.isprintable():
            continue  # the common case; False for every refused character (all are C* or Z*)
        refused = char in BIDI_FORMATTING or unicodedata.category(char) in _REFUSED_CATEGORIES
        if refused and not (multiline and char in _MULTILINE):
            code = f"U+{ord(char):04X}"
            if code not in found:
                found.append(code)
    return found
