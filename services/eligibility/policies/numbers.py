"""Document numbers (发文字号) in one canonical form, so that one document has one identity.

A Chinese official document number is `<issuer prefix>〔YYYY〕N号` (GB/T 9704-2012 §7.2.3: the year in 六角括号
〔〕, the serial without 第 and without leading zeros). As typed it arrives in many spellings: full-width digits
and letters, spaces anywhere (the policy's own header prints "渝发改规范〔2024〕7 号"), any kind of bracket around
the year, 第 before the serial, 號 for 号, a zero-padded or missing-号 serial. `normalise_document_number` maps every
such spelling to the canonical one and refuses a text of any other shape, so that a disguised number is either
the same identity or an error, never "another document".
"""

import re
import unicodedata

__all__ = ["DOCUMENT_NUMBER_SHAPE", "normalise_document_number"]

DOCUMENT_NUMBER_SHAPE = "<issuer prefix>〔YYYY〕N号, e.g. 渝发改规范〔2024〕7号"

# Brackets around the year, after NFKC (which already maps （）［］｛｝ to ASCII and ﹝﹞ to 〔〕). Any opening with any
# closing one: a mismatched pair still names the same document.
_OPENING = "〔[【(〖{〘"
_CLOSING = "〕]】)〗}〙"
# Spaces of every kind, and the invisible characters that can hide inside a copied number.
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u180e\u00ad")
# Traditional forms of the characters of document-number prefixes and of 号 (a traditional spelling of a number
# is the same document; NFKC already folds compatibility and Kangxi-radical forms).
_TRADITIONAL = str.maketrans(
    {
        "號": "号",
        "發": "发",
        "規": "规",
        "範": "范",
        "財": "财",
        "經": "经",
        "資": "资",
        "務": "务",
        "貿": "贸",
        "辦": "办",
        "廳": "厅",
        "國": "国",
        "區": "区",
        "縣": "县",
        "農": "农",
        "稅": "税",
        "開": "开",
        "環": "环",
        "衛": "卫",
        "勞": "劳",
        "會": "会",
        "員": "员",
        "計": "计",
        "劃": "划",
        "議": "议",
        "審": "审",
    }
)
_SHAPE = re.compile(
    rf"(?P<prefix>[^\d{re.escape(_OPENING + _CLOSING)}]+)"
    rf"[{re.escape(_OPENING)}](?P<year>\d{{4}})[{re.escape(_CLOSING)}]"
    r"第?(?P<serial>\d+)号?"
)
_MAX_SERIAL = 999_999
_MAX_PREFIX = 40


def _squeezed(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text)
    kept = (char for char in folded if not char.isspace() and char not in _INVISIBLE)
    return "".join(kept).translate(_TRADITIONAL)


def normalise_document_number(text: str) -> str:
    """The canonical form `<issuer prefix>〔YYYY〕N号` of a document number in any spelling; ValueError if `text`
    is not a document number of that shape.

    >>> normalise_document_number("渝发改规范（２０２４）第07號")
    '渝发改规范〔2024〕7号'
    """
    squeezed = _squeezed(text)
    match = _SHAPE.fullmatch(squeezed)
    if match is None:
        raise ValueError(f"not a document number: expected the shape {DOCUMENT_NUMBER_SHAPE}")
    prefix = match["prefix"]
    if len(prefix) > _MAX_PREFIX or not all(char.isalpha() for char in prefix):
        raise ValueError(
            f"the issuer prefix {prefix!r} may hold only letters (the issuer's abbreviation), at most {_MAX_PREFIX}: "
            f"expected the shape {DOCUMENT_NUMBER_SHAPE}"
        )
    year = int(match["year"])
    if not 1900 <= year <= 2099:
        raise ValueError(f"the year {year} is not a year of a document: expected the shape {DOCUMENT_NUMBER_SHAPE}")
    serial = int(match["serial"])
    if not 1 <= serial <= _MAX_SERIAL:
        raise ValueError(
            f"the serial number must be between 1 and {_MAX_SERIAL}: expected the shape {DOCUMENT_NUMBER_SHAPE}"
        )
    return f"{prefix.upper()}〔{year}〕{serial}号"
