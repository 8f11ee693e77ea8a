"""Go's regular expressions, as Prometheus reads a label matcher's regex: only whether they parse, and why not."""

from __future__ import annotations

import re

import attrs

__all__ = ["go_regexp_problem"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Prometheus compiles a label matcher's regex with Go's regexp (RE2 syntax) as ^(?:<value>)$; the Rust parser
# checks it with Rust's regex crate, which takes more: stacked repetitions (a**, a++), counts above 1000, (?x) and
# (?<name>...) (Go before 1.22), long Unicode class names (\p{Letter}). The rules below follow Go's
# src/regexp/syntax/parse.go (Perl flags, as regexp.Compile uses them); what Rust refuses, the parser has refused.

_MAX_REPEAT = 1000  # parse.go: maxRepeat, also the product of nested counts (repeatIsValid)
_MAX_SIZE = (128 << 20) // 40  # parse.go: maxSize, in compiled instructions (calcSize)
_MAX_GROUPS = 250  # parse.go: maxHeight is 1000 tree levels; each group is several
_POSIX_CLASSES = _words("""alnum alpha ascii blank cntrl digit graph lower print punct space upper word xdigit""")
_CATEGORIES = _words(
    """C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs"""
)
# Go's unicode.Scripts as Go 1.19 has them (Unicode 13.0.0, Debian 12's promtool), each one checked with promtool.
_SCRIPTS = _words(
    """Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak Bengali Bhaiksuki
    Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian Caucasian_Albanian Chakma Cham Cherokee
    Chorasmian Common Coptic Cuneiform Cypriot Cyrillic Deseret Devanagari Dives_Akuru Dogra Duployan
    Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic Georgian Glagolitic Gothic Grantha Greek Gujarati Gunjala_Gondi
    Gurmukhi Han Hangul Hanifi_Rohingya Hanunoo Hatran Hebrew Hiragana Imperial_Aramaic Inherited
    Inscriptional_Pahlavi Inscriptional_Parthian Javanese Kaithi Kannada Katakana Kayah_Li Kharoshthi
    Khitan_Small_Script Khmer Khojki Khudawadi Lao Latin Lepcha Limbu Linear_A Linear_B Lisu Lycian Lydian Mahajani
    Makasar Malayalam Mandaic Manichaean Marchen Masaram_Gondi Medefaidrin Meetei_Mayek Mende_Kikakui
    Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi Mongolian Mro Multani Myanmar Nabataean Nandinagari New_Tai_Lue
    Newa Nko Nushu Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Old_Hungarian Old_Italic Old_North_Arabian Old_Permic
    Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Oriya Osage Osmanya Pahawh_Hmong Palmyrene Pau_Cin_Hau
    Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic Samaritan Saurashtra Sharada Shavian Siddham SignWriting
    Sinhala Sogdian Sora_Sompeng Soyombo Sundanese Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet
    Takri Tamil Tangut Telugu Thaana Thai Tibetan Tifinagh Tirhuta Ugaritic Vai Wancho Warang_Citi Yezidi Yi
    Zanabazar_Square"""
)
_HEX = "0123456789abcdefABCDEF"
_OCTAL = "01234567"


class _RegexpError(Exception):
    """Raised when Go's regexp/syntax would refuse the pattern; the message is Go's error code."""


@attrs.define
class _Group:
    """One open group of the pattern: its alternatives' sizes, and the current one's pieces."""

    alternatives: list[int] = attrs.Factory(list)
    pieces: list[tuple[int, int]] = attrs.Factory(list)  # (compiled size, product of the counts inside)
    product: int = 1  # the largest product of nested counts in the group's finished alternatives

    def alternate(self) -> None:
        self.alternatives.append(sum(size for size, _ in self.pieces))
        self.product = max([self.product, *(inner for _, inner in self.pieces)])
        self.pieces = []

    def close(self) -> tuple[int, int]:
        self.alternate()
        size = sum(self.alternatives) + len(self.alternatives) - 1
        return max(1, size), self.product


def go_regexp_problem(pattern: str) -> str | None:
    """Why Go's regexp (RE2 syntax, as Prometheus reads a label matcher's regex) refuses *pattern*,
    or ``None``; only what Go refuses and Rust's regex takes needs naming here, but every rule is Go's."""
    try:
        _go_parse(f"^(?:{pattern})$")  # model/labels/regexp.go, NewFastRegexMatcher: compiled anchored,
        _go_parse(pattern)  # and parsed alone (so `a)|(b`, fine anchored, is refused)
    except _RegexpError as exc:
        return f"Go's regexp refuses it ({exc})"
    return None


def _go_parse(text: str) -> None:
    _GoRegexp(text).parse()


@attrs.define
class _GoRegexp:
    """A reading of *text* as Go's parser does it (parse.go, parse): only whether it succeeds, and why not."""

    text: str
    position: int = 0
    groups: list[_Group] = attrs.Factory(lambda: [_Group()])
    last_was_repeat: bool = False

    def parse(self) -> None:
        while self.position < len(self.text):
            self.last_was_repeat = self._step()
            if sum(size for size, _ in self.groups[-1].pieces) > _MAX_SIZE:
                raise _RegexpError("expression too large")
        if len(self.groups) != 1:
            raise _RegexpError("missing closing )")
        size, _product = self.groups[0].close()
        if size > _MAX_SIZE:
            raise _RegexpError("expression too large")

    def _step(self) -> bool:
        """Read one element; whether it was a repetition operator."""
        char = self.text[self.position]
        if char in "*+?" or (char == "{" and _counts(self.text, self.position) is not None):
            self._repeat(char)
            return True
        if char == "(":
            self._open()
        elif char == "|":
            self.groups[-1].alternate()
            self.position += 1
        elif char == ")":
            if len(self.groups) == 1:
                raise _RegexpError("unexpected )")
            size, product = self.groups.pop().close()
            self.groups[-1].pieces.append((size + 2, product))  # a capture: two instructions more
            self.position += 1
        elif char == "[":
            self.position = _class(self.text, self.position)
            self.groups[-1].pieces.append((1, 1))
        elif char == "\\":
            self._escape()
        else:
            self.groups[-1].pieces.append((1, 1))
            self.position += 1
        return False

    def _open(self) -> None:
        if self.text.startswith("(?", self.position):
            self.position, opened = _perl_flags(self.text, self.position)
            if not opened:
                return  # (?i): flags only, nothing pushed
        else:
            self.position += 1
        self.groups.append(_Group())
        if len(self.groups) > _MAX_GROUPS:
            raise _RegexpError("expression nests too deeply")

    def _repeat(self, char: str) -> None:
        """parse.go, repeat: no operator right after another; something to repeat; counts within limits."""
        group = self.groups[-1]
        if self.last_was_repeat:
            raise _RegexpError("invalid nested repetition operator")
        if not group.pieces:
            raise _RegexpError("missing argument to repetition operator")
        size, inner = group.pieces[-1]
        if char == "{":
            low, high, self.position = _counts(self.text, self.position)  # type: ignore[misc]
            if low > _MAX_REPEAT or high > _MAX_REPEAT or (high >= 0 and low > high):
                raise _RegexpError("invalid repeat count")
            count = high if high >= 0 else low
            if (low >= 2 or high >= 2) and count > 0 and count * inner > _MAX_REPEAT:
                raise _RegexpError("invalid repeat count")  # repeatIsValid: nested counts multiply
            grown = (2 + size if low == 0 else 1 + low * size) if high == -1 else high * size + high - low
            group.pieces[-1] = (grown, count * inner if count > 0 else 1)
        else:
            group.pieces[-1] = (size + (2 if char == "*" else 1), inner)
            self.position += 1
        if self.text.startswith("?", self.position):  # non-greedy
            self.position += 1

    def _escape(self) -> None:
        text, position = self.text, self.position
        following = text[position + 1 : position + 2]
        if following == "Q":  # \Q...\E: literals, maybe none
            end = text.find("\\E", position + 2)
            literal = text[position + 2 : end if end >= 0 else len(text)]
            self.groups[-1].pieces.extend((1, 1) for _ in literal)
            self.position = len(text) if end < 0 else end + 2
            return
        if following in ("A", "b", "B", "z", "d", "D", "s", "S", "w", "W"):
            self.position = position + 2
        elif following == "C":
            raise _RegexpError("invalid escape sequence")
        elif following in ("p", "P"):
            self.position = _unicode_class(text, position)
        else:
            self.position = _escape(text, position)
        self.groups[-1].pieces.append((1, 1))


def _counts(text: str, position: int) -> tuple[int, int, int] | None:
    """``{n}``, ``{n,}`` or ``{n,m}`` at *position*: (n, m or -1, the position after); ``None`` when it is not one
    (then ``{`` is a literal). Leading zeros make it no count (parse.go, parseInt)."""
    match = re.compile(r"\{(0|[1-9][0-9]*)(?:(,)(0|[1-9][0-9]*)?)?\}").match(text, position)
    if match is None:
        return None
    low = min(int(match.group(1)), 10**8)
    high = low if match.group(2) is None else -1 if match.group(3) is None else min(int(match.group(3)), 10**8)
    return low, high, match.end()


def _perl_flags(text: str, position: int) -> tuple[int, bool]:
    """``(?i)``, ``(?i:``, ``(?P<name>``: the position after, and whether a group opened. ``(?<name>`` is refused:
    Go takes it only from 1.22 on."""
    rest = text[position + 2 :]
    if rest.startswith("P<"):
        end = rest.find(">")
        name = rest[2:end] if end >= 0 else ""
        if end < 0 or not re.fullmatch(r"[A-Za-z0-9_]+", name):
            raise _RegexpError("invalid named capture")
        return position + 2 + end + 1, True
    index, sign, saw_flag = 0, 1, False
    while index < len(rest):
        char = rest[index]
        index += 1
        if char in "imsU":
            saw_flag = True
        elif char == "-" and sign > 0:
            sign, saw_flag = -1, False
        elif char in ":)" and (sign > 0 or saw_flag):
            return position + 2 + index, char == ":"
        else:
            break
    raise _RegexpError("invalid or unsupported Perl syntax")


def _unicode_class(text: str, position: int) -> int:
    rest = text[position + 2 :]
    if not rest:
        raise _RegexpError("invalid character class range")
    if rest[0] == "{":
        end = rest.find("}")
        if end < 0:
            raise _RegexpError("invalid character class range")
        name, after = rest[1:end], position + 2 + end + 1
    else:
        name, after = rest[0], position + 3
    name = name.removeprefix("^")
    if name != "Any" and name not in _CATEGORIES and name not in _SCRIPTS:
        raise _RegexpError("invalid character class range")
    return after


def _escape(text: str, position: int) -> int:
    """A single-character escape (parse.go, parseEscape): the position after it."""
    if position + 1 >= len(text):
        raise _RegexpError("trailing backslash at end of expression")
    char = text[position + 1]
    after = position + 2
    if char.isascii() and not char.isalnum():
        return after
    if (char in "1234567" and text[after : after + 1] and text[after] in _OCTAL) or char == "0":
        for _ in range(2):
            if text[after : after + 1] and text[after] in _OCTAL:
                after += 1
        return after
    if char == "x":
        if text[after : after + 1] == "{":
            end = text.find("}", after)
            digits = text[after + 1 : end] if end >= 0 else ""
            if digits and all(d in _HEX for d in digits) and int(digits, 16) <= 0x10FFFF:
                return end + 1
        elif len(text) >= after + 2 and text[after] in _HEX and text[after + 1] in _HEX:
            return after + 2
    elif char in "afnrtv":
        return after
    raise _RegexpError("invalid escape sequence")


def _class(text: str, position: int) -> int:
    """A bracketed class at *position* (parse.go, parseClass): the position after its ``]``."""
    index = position + 1
    if text[index : index + 1] == "^":
        index += 1
    first = True
    while first or text[index : index + 1] != "]":
        if index >= len(text):
            raise _RegexpError("missing closing ]")
        first = False
        if text.startswith("[:", index) and (end := text.find(":]", index + 2)) >= 0:
            name = text[index + 2 : end].removeprefix("^")
            if name not in _POSIX_CLASSES:
                raise _RegexpError("invalid character class range")
            index = end + 2
            continue
        if text.startswith(("\\p", "\\P"), index):
            index = _unicode_class(text, index)
            continue
        if text[index + 1 : index + 2] in ("d", "D", "s", "S", "w", "W") and text[index] == "\\":
            index += 2
            continue
        low, index = _class_char(text, index)
        if text[index : index + 1] == "-" and text[index + 1 : index + 2] not in ("]", ""):
            high, index = _class_char(text, index + 1)
            if high < low:
                raise _RegexpError("invalid character class range")
    return index + 1


def _class_char(text: str, index: int) -> tuple[int, int]:
    """One character of a class, escaped or not: its code point and the position after it."""
    if index >= len(text):
        raise _RegexpError("missing closing ]")
    if text[index] != "\\":
        return ord(text[index]), index + 1
    after = _escape(text, index)
    body = text[index + 1 : after]
    if body[0] == "x":
        return int(body[1:].strip("{}"), 16), after
    if body[0] in _OCTAL:
        return int(body, 8), after
    return ord({"a": "\a", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}.get(body, body)), after
