"""Validation of a submitted rating: what the server accepts, and the 4xx it answers otherwise.

A submission is an ``application/x-www-form-urlencoded`` body with exactly the fields
``token``, ``rater``, ``mark`` and ``comment`` (the last may be empty), each at most once:

* ``rater``: stripped of surrounding spaces; 1 to :data:`MAX_NAME` characters; no control or
  format characters (Unicode categories C*, e.g. newlines, NUL, bidi overrides).
* ``mark``: a plain decimal number (``7``, ``6.75``; no exponent, sign, ``nan`` or ``inf``)
  from 1 to 10 and a multiple of 0.25; stored in its shortest form (``6.50`` -> ``6.5``).
* ``comment``: line breaks normalised to ``\\n``, surrounding spaces stripped; at most
  :data:`MAX_COMMENT` characters; no control characters other than ``\\n`` and ``\\t``.
  A leading ``=``, ``+``, ``-`` or ``@`` is kept verbatim (see :mod:`cg.survey.table`);
  pages show it HTML-escaped, as plain text.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
import urllib.parse
from dataclasses import dataclass
from decimal import Decimal

from cg.survey.table import MARK_MAX, MARK_MIN

MAX_NAME = 64
MAX_COMMENT = 2000
# 2000 characters of 4-byte UTF-8, percent-encoded, is 24,000 bytes; the limit leaves room for
# the other fields and nothing more.
MAX_BODY = 32 * 1024
FIELDS = ("token", "rater", "mark", "comment")
_MARK_RE = re.compile(r"[0-9]{1,2}(?:\.[0-9]{1,6})?")


class SubmissionError(Exception):
    """A rejected submission: the HTTP status to answer and a message for the rater."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Rating:
    rater: str
    mark: str
    comment: str


def parse_form(body: bytes, token: str) -> Rating:
    """Validate a form body (see the module docstring); raises :class:`SubmissionError`."""
    try:
        text = body.decode("utf-8")
        pairs = urllib.parse.parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=8
        )
    except ValueError:  # includes UnicodeDecodeError and too many fields
        raise SubmissionError(400, "the form data is not valid UTF-8 form encoding") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key not in FIELDS:
            raise SubmissionError(400, f"unexpected form field {key!r}")
        if key in fields:
            raise SubmissionError(400, f"form field {key!r} given twice")
        fields[key] = value
    if not hmac.compare_digest(fields.get("token", "").encode(), token.encode()):
        raise SubmissionError(403, "the form has expired or did not come from this page; reload")
    for key in ("rater", "mark"):
        if key not in fields:
            raise SubmissionError(400, f"form field {key!r} is missing")
    return Rating(
        rater=check_name(fields["rater"]),
        mark=check_mark(fields["mark"]),
        comment=check_comment(fields.get("comment", "")),
    )


def check_name(value: str) -> str:
    name = value.strip()
    if not name:
        raise SubmissionError(400, "the name is empty; write your name or a nickname")
    if len(name) > MAX_NAME:
        raise SubmissionError(400, f"the name is {len(name)} characters; at most {MAX_NAME}")
    bad = [ch for ch in name if unicodedata.category(ch).startswith("C")]
    if bad:
        raise SubmissionError(
            400, f"the name contains control character U+{ord(bad[0]):04X}; remove it"
        )
    return name


def check_mark(value: str) -> str:
    text = value.strip()
    hint = f"write a number from {MARK_MIN:g} to {MARK_MAX:g} in steps of 0.25, e.g. 6.75"
    if not _MARK_RE.fullmatch(text):
        raise SubmissionError(400, f"mark {text[:20]!r} is not a number: {hint}")
    mark = Decimal(text)
    if not Decimal(str(MARK_MIN)) <= mark <= Decimal(str(MARK_MAX)):
        raise SubmissionError(400, f"mark {text} is outside {MARK_MIN:g}..{MARK_MAX:g}: {hint}")
    if (mark * 4) % 1 != 0:
        raise SubmissionError(400, f"mark {text} is not a multiple of 0.25: {hint}")
    return format(mark.normalize(), "f")


def check_comment(value: str) -> str:
    comment = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(comment) > MAX_COMMENT:
        raise SubmissionError(
            400, f"the comment is {len(comment)} characters; at most {MAX_COMMENT}"
        )
    bad = [ch for ch in comment if ch not in "\n\t" and unicodedata.category(ch) == "Cc"]
    if bad:
        raise SubmissionError(
            400, f"the comment contains control character U+{ord(bad[0]):04X}; remove it"
        )
    return comment
