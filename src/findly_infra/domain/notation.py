"""The notations people write in the platform file, as value objects.

Every value object here has a ``parse`` named constructor that accepts what people write
("10 minutes", "15m", "< 0.5%", "99.9%", "95% of requests < 200ms", "100GB", "e2-standard-4")
as well as plain numbers, and a ``format`` method whose output ``parse`` reads back to an equal
object. Garbage raises :class:`NotationError` with a sentence that says what was expected.
"""

from __future__ import annotations

import enum
import functools
import math
import re
from typing import ClassVar

import attrs

__all__ = [
    "ByteSize",
    "Comparison",
    "CpuQuantity",
    "Duration",
    "ErrorBudgetStatement",
    "LatencyObjective",
    "MachineType",
    "MetricKind",
    "NotationError",
    "Percentage",
    "RelativeThreshold",
    "Threshold",
    "cadence_in",
    "describe_value",
    "format_number",
]


class NotationError(ValueError):
    """Raised when a value written in the platform file does not follow the notation expected there."""


def format_number(value: float) -> str:
    """The shortest text that reads back as *value*: ``2.0`` -> ``"2"``, ``0.5`` -> ``"0.5"``."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def describe_value(raw: object) -> str:
    """A value as a message quotes it: its repr, cut to 60 characters."""
    text = repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def _as_text(raw: object, what: str, example: str) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str):
        raise NotationError(f"expected {what} such as {example}, got {describe_value(raw)}")
    return raw.strip()


_NUMBER = r"((?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"


# --------------------------------------------------------------------------------------------
# Durations
# --------------------------------------------------------------------------------------------

_DURATION_UNITS_MS: dict[str, int] = {}
for _names, _ms in (
    (("ms", "msec", "msecs", "millisecond", "milliseconds"), 1),
    (("s", "sec", "secs", "second", "seconds"), 1_000),
    (("m", "min", "mins", "minute", "minutes"), 60_000),
    (("h", "hr", "hrs", "hour", "hours"), 3_600_000),
    (("d", "day", "days"), 86_400_000),
    (("w", "wk", "wks", "week", "weeks"), 604_800_000),
):
    for _name in _names:
        _DURATION_UNITS_MS[_name] = _ms

_DURATION_PART = re.compile(rf"\s*{_NUMBER}\s*-?\s*([a-zA-Z]+)\s*")
_MAX_MS = 10**13
_DESCRIBE_UNITS = (("day", 86_400_000), ("hour", 3_600_000), ("minute", 60_000), ("second", 1000))
_FORMAT_UNITS = (("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000))


@attrs.frozen(order=True)
class Duration:
    """A length of time, held in whole milliseconds.

    Reads "10 minutes", "15m", "1h30m", "30 days", "90-day", "2 seconds", "200ms", and plain
    numbers, which are seconds (as Kubernetes and Prometheus take them).
    """

    milliseconds: int = attrs.field(validator=attrs.validators.ge(0))

    EXAMPLE: ClassVar[str] = "'10 minutes', '15m', '1h30m' or 600 (seconds)"

    @classmethod
    def of(cls, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> Duration:
        total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
        return cls(milliseconds=round(total * 1000))

    @classmethod
    def parse(cls, raw: object) -> Duration:
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            if not math.isfinite(raw) or raw < 0:
                raise NotationError(f"expected a duration of zero or more seconds, got {describe_value(raw)}")
            if raw * 1000 > _MAX_MS:
                raise NotationError(f"the duration {describe_value(raw)} is too long (over 300 years)")
            return cls(milliseconds=round(raw * 1000))
        text = _as_text(raw, "a duration", cls.EXAMPLE)
        position, total, found = 0, 0.0, False
        while position < len(text):  # pragma: no mutate (equivalent: at the end no part matches, so <= stops too)
            match = _DURATION_PART.match(text, position)
            if match is None or match.end() == position:
                break
            unit = _DURATION_UNITS_MS.get(match.group(2).lower())
            if unit is None:
                break
            total += float(match.group(1)) * unit
            position, found = match.end(), True
        if not found or position != len(text):
            raise NotationError(f"expected a duration such as {cls.EXAMPLE}, got {describe_value(raw)}")
        if total > _MAX_MS:
            raise NotationError(f"the duration {describe_value(raw)} is too long (over 300 years)")
        return cls(milliseconds=round(total))

    @property
    def seconds(self) -> float:
        return self.milliseconds / 1000

    @property
    def minutes(self) -> float:
        return self.milliseconds / 60_000

    def __add__(self, other: Duration) -> Duration:
        return Duration(self.milliseconds + other.milliseconds)

    def __mul__(self, factor: float) -> Duration:
        return Duration(round(self.milliseconds * factor))

    def format(self) -> str:
        """Go/Prometheus style: ``10m``, ``1h30m``, ``1500ms``, ``0s``."""
        remaining = self.milliseconds
        if remaining == 0:
            return "0s"
        if remaining % 1_000:
            return f"{remaining}ms"
        pieces = []
        for name, size in _FORMAT_UNITS:
            count, remaining = divmod(remaining, size)
            if count:
                pieces.append(f"{count}{name}")
        return "".join(pieces)

    def describe(self) -> str:
        """For people: ``60 minutes``, ``43.2 minutes``, ``30 days``."""
        name, size = next(
            ((name, size) for name, size in _DESCRIBE_UNITS if self.milliseconds >= size), ("second", 1000)
        )
        amount = format_number(round(self.milliseconds / size, 3))
        return f"{amount} {name}" if amount == "1" else f"{amount} {name}s"

    def __str__(self) -> str:
        return self.format()


_CADENCES = {
    "hourly": Duration.of(hours=1),
    "daily": Duration.of(days=1),
    "nightly": Duration.of(days=1),
    "weekly": Duration.of(days=7),
    "monthly": Duration.of(days=30),
    "quarterly": Duration.of(days=91),
    "yearly": Duration.of(days=365),
    "annually": Duration.of(days=365),
}
_EVERY = re.compile(rf"(?:every\s+)?{_NUMBER}\s*-?\s*([a-zA-Z]+)")


def cadence_in(text: str) -> Duration | None:
    """The shortest period named in a descriptive phrase.

    ``"Continuous replication + hourly snapshots"`` -> 1h, ``"Automated 90-day rotation"`` -> 90d,
    ``"Weekly restore testing"`` -> 7d; ``None`` where the phrase names none.
    """
    found: list[Duration] = [period for word, period in _CADENCES.items() if re.search(rf"\b{word}\b", text, re.I)]
    for match in _EVERY.finditer(text):
        unit = _DURATION_UNITS_MS.get(match.group(2).lower())
        milliseconds = float(match.group(1)) * unit if unit is not None else math.inf
        if math.isfinite(milliseconds):  # "every 9…9 (5,000 digits) hours" names no period a schedule keeps
            found.append(Duration(round(milliseconds)))
    return min(found) if found else None


# --------------------------------------------------------------------------------------------
# Percentages and thresholds
# --------------------------------------------------------------------------------------------

_PERCENT = re.compile(rf"^{_NUMBER}\s*%$")


@attrs.frozen(order=True)
class Percentage:
    """A percentage as written: ``99.9%`` holds ``percent=99.9``; :attr:`ratio` is 0.999."""

    percent: float = attrs.field(converter=float)

    EXAMPLE: ClassVar[str] = "'99.9%' or '0.5%'"

    @percent.validator
    def _check(self, _attribute: object, value: float) -> None:
        if not math.isfinite(value) or value < 0:
            raise NotationError(f"a percentage is a number, zero or more, got {format_number(value)}%")

    @classmethod
    def parse(cls, raw: object) -> Percentage:
        """Reads ``"99.9%"``; a plain number is taken as a percentage (``70`` is 70%)."""
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return cls(raw)
        text = _as_text(raw, "a percentage", cls.EXAMPLE)
        match = _PERCENT.match(text)
        if match is None:
            raise NotationError(f"expected a percentage such as {cls.EXAMPLE}, got {describe_value(raw)}")
        return cls(float(match.group(1)))

    @classmethod
    def from_ratio(cls, ratio: float) -> Percentage:
        return cls(ratio * 100)

    @property
    def ratio(self) -> float:
        return self.percent / 100

    def format(self) -> str:
        return f"{format_number(self.percent)}%"

    def __str__(self) -> str:
        return self.format()


class MetricKind(enum.Enum):
    """What a value is measured in: a percentage (a ratio in base units), a duration (seconds in base
    units), or a plain number."""

    PERCENTAGE = "percentage"
    DURATION = "duration"
    NUMBER = "number"


class Comparison(enum.Enum):
    """How an observed value is compared with a threshold."""

    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="

    def holds(self, observed: float, limit: float) -> bool:
        if self is Comparison.LT:
            return observed < limit
        if self is Comparison.LE:
            return observed <= limit
        if self is Comparison.GT:
            return observed > limit
        return observed >= limit

    @property
    def is_upper_bound(self) -> bool:
        """``<`` and ``<=`` keep a value below a limit."""
        return self in (Comparison.LT, Comparison.LE)


_THRESHOLD = re.compile(r"^(<=|>=|<|>)\s*(.+)$")


@attrs.frozen
class Threshold:
    """A comparison with a limit: ``< 0.5%``, ``> 2 seconds``, ``< 80%``, ``> 100``.

    The limit is a :class:`Percentage`, a :class:`Duration` or a plain number;
    :meth:`holds_for` compares an observed value in base units (a ratio for
    percentages, seconds for durations).
    """

    comparison: Comparison
    limit: Percentage | Duration | float

    EXAMPLE: ClassVar[str] = "'< 0.5%', '> 2 seconds' or '< 100'"

    @classmethod
    def parse(cls, raw: object) -> Threshold:
        text = _as_text(raw, "a threshold", cls.EXAMPLE)
        match = _THRESHOLD.match(text)
        if match is None:
            raise NotationError(
                "expected a threshold that starts with <, <=, > or >=, "
                f"such as {cls.EXAMPLE}, got {describe_value(raw)}"
            )
        comparison, rest = Comparison(match.group(1)), match.group(2).strip()
        limit: Percentage | Duration | float
        if rest.endswith("%"):
            limit = Percentage.parse(rest)
        elif re.fullmatch(_NUMBER, rest):
            limit = float(rest)
        else:
            try:
                limit = Duration.parse(rest)
            except NotationError:
                raise NotationError(
                    f"expected a percentage, a duration or a number after {comparison.value!r}, "
                    f"such as {cls.EXAMPLE}, got {describe_value(raw)}"
                ) from None
        return cls(comparison, limit)

    @property
    def kind(self) -> MetricKind:
        """What the limit is written in: a percentage, a duration or a number."""
        if isinstance(self.limit, Percentage):
            return MetricKind.PERCENTAGE
        if isinstance(self.limit, Duration):
            return MetricKind.DURATION
        return MetricKind.NUMBER

    @property
    def value(self) -> float:
        """The limit in base units: a ratio for percentages, seconds for durations."""
        if isinstance(self.limit, Percentage):
            return self.limit.ratio
        if isinstance(self.limit, Duration):
            return self.limit.seconds
        return self.limit

    def holds_for(self, observed: float) -> bool:
        """Whether *observed* (in base units) satisfies the comparison. NaN never does."""
        if math.isnan(observed):
            return False
        return self.comparison.holds(observed, self.value)

    def format(self) -> str:
        return _format_threshold(self.comparison, self.limit)

    def __str__(self) -> str:
        return self.format()


@functools.cache
def _format_threshold(comparison: Comparison, limit: Percentage | Duration | float) -> str:
    text = limit.format() if isinstance(limit, (Percentage, Duration)) else format_number(limit)
    return f"{comparison.value} {text}"


_RELATIVE = re.compile(rf"^(<=|<)\s*{_NUMBER}\s*(?:x|×|times)\s*(?:the\s+)?(current|baseline)(?:\s+version)?$", re.I)


@attrs.frozen
class RelativeThreshold:
    """``< 1.2x current``: the new version's value stays under a multiple of the current version's.

    An upper bound only (a canary is held to "no worse than"): ``<`` or ``<=``, and a factor above zero.
    When both versions measure zero the new one is no worse, so the comparison holds.
    """

    comparison: Comparison
    factor: float

    EXAMPLE: ClassVar[str] = "'< 1.2x current' or '<= 2x current'"

    def __attrs_post_init__(self) -> None:
        if self.comparison not in (Comparison.LT, Comparison.LE):
            raise NotationError(f"a comparison with the current version is an upper bound such as {self.EXAMPLE}")
        if not (math.isfinite(self.factor) and 0 < self.factor <= 1e6):
            raise NotationError(f"the factor is a number above 0, such as {self.EXAMPLE}, got {self.factor!r}")

    @classmethod
    def parse(cls, raw: object) -> RelativeThreshold:
        text = _as_text(raw, "a comparison with the current version", cls.EXAMPLE)
        match = _RELATIVE.match(" ".join(text.split()))
        if match is None:
            raise NotationError(
                f"expected a comparison with the current version such as {cls.EXAMPLE}, got {describe_value(raw)}"
            )
        return cls(Comparison(match.group(1)), float(match.group(2)))

    def limit_for(self, current: float) -> float:
        """The limit the new version is held to when the current version measures *current*."""
        return self.factor * current

    def holds_for(self, observed: float, current: float) -> bool:
        """Whether *observed* is no worse than allowed against *current*. NaN on either side never holds."""
        if math.isnan(observed) or math.isnan(current):  # pragma: no mutate (equivalent: NaN compares false below)
            return False
        if observed == current == 0:
            return True
        return self.comparison.holds(observed, self.limit_for(current))

    def format(self) -> str:
        return f"{self.comparison.value} {format_number(self.factor)}x current"

    def __str__(self) -> str:
        return self.format()


_LATENCY = re.compile(r"^(.+?%)\s+of\s+requests\s*(<=|<)\s*(.+)$", re.I)


@attrs.frozen
class LatencyObjective:
    """``95% of requests < 200ms``: the share of requests that must be faster than a bound."""

    proportion: Percentage = attrs.field()
    bound: Duration = attrs.field()

    EXAMPLE: ClassVar[str] = "'95% of requests < 200ms'"

    @proportion.validator
    def _check(self, _attribute: object, value: Percentage) -> None:
        if not 0 < value.percent < 100:
            raise NotationError(f"the share of requests must be between 0% and 100%, got {value}")

    @classmethod
    def parse(cls, raw: object) -> LatencyObjective:
        text = _as_text(raw, "a latency objective", cls.EXAMPLE)
        match = _LATENCY.match(text)
        if match is None:
            raise NotationError(f"expected a latency objective such as {cls.EXAMPLE}, got {describe_value(raw)}")
        bound = Duration.parse(match.group(3))
        if bound.milliseconds == 0:
            raise NotationError(f"the latency bound must be above zero, got {describe_value(raw)}")
        return cls(Percentage.parse(match.group(1)), bound)

    def format(self) -> str:
        return f"{self.proportion.format()} of requests < {self.bound.format()}"

    def __str__(self) -> str:
        return self.format()


_BUDGET = re.compile(r"^(.+?)\s*(?:/|per\s+)\s*(minute|hour|day|week|month|quarter|year)$", re.I)
_PERIODS = {
    "minute": Duration.of(minutes=1),
    "hour": Duration.of(hours=1),
    "day": Duration.of(days=1),
    "week": Duration.of(days=7),
    "month": Duration.of(days=30),
    "quarter": Duration.of(days=90),
    "year": Duration.of(days=365),
}


@attrs.frozen
class ErrorBudgetStatement:
    """A stated error budget: ``43.2 minutes/month`` (a month is 30 days), or a bare duration,
    which is the budget over the SLO's own measurement window (``per`` is ``None``)."""

    budget: Duration
    per: str | None = attrs.field(default=None)

    EXAMPLE: ClassVar[str] = "'43.2 minutes/month'"

    @per.validator
    def _check(self, _attribute: object, value: str | None) -> None:
        if value is not None and value not in _PERIODS:
            raise NotationError(f"an error budget is stated per one of {', '.join(_PERIODS)}, got {value!r}")

    @classmethod
    def parse(cls, raw: object) -> ErrorBudgetStatement:
        text = _as_text(raw, "an error budget", cls.EXAMPLE)
        match = _BUDGET.match(text)
        try:
            if match is None:
                return cls(Duration.parse(text))
            return cls(Duration.parse(match.group(1)), match.group(2).lower())
        except NotationError:
            raise NotationError(f"expected an error budget such as {cls.EXAMPLE}, got {describe_value(raw)}") from None

    def period(self, window: Duration) -> Duration:
        """The period the budget is stated over: the named one, or *window*."""
        return _PERIODS[self.per] if self.per is not None else window

    def format(self) -> str:
        amount = self.budget.describe()
        if Duration.parse(amount) != self.budget:
            amount = self.budget.format()
        return amount if self.per is None else f"{amount}/{self.per}"

    def __str__(self) -> str:
        return self.format()


# --------------------------------------------------------------------------------------------
# Sizes and machine shapes
# --------------------------------------------------------------------------------------------

_BYTE_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "ki": 2**10,
    "kib": 2**10,
    "mi": 2**20,
    "mib": 2**20,
    "gi": 2**30,
    "gib": 2**30,
    "ti": 2**40,
    "tib": 2**40,
}
_SIZE = re.compile(rf"^{_NUMBER}\s*([a-zA-Z]*)$")
_FORMAT_SIZES = (
    ("Ti", 2**40),
    ("Gi", 2**30),
    ("Mi", 2**20),
    ("Ki", 2**10),
    ("TB", 10**12),
    ("GB", 10**9),
    ("MB", 10**6),
    ("KB", 10**3),
)
_KUBERNETES_SIZES = (
    ("Ti", 2**40),
    ("Gi", 2**30),
    ("Mi", 2**20),
    ("Ki", 2**10),
    ("T", 10**12),
    ("G", 10**9),
    ("M", 10**6),
    ("k", 10**3),
)


def _whole(count: int, units: tuple[tuple[str, int], ...]) -> str:
    """*count* bytes as a whole number of the largest of *units* that divides it (``100GB``, not ``97656250Ki``;
    ``512Mi``), else as bytes."""
    fits = [(size, name) for name, size in units if count % size == 0]
    if count == 0 or not fits:
        return str(count)
    size, name = max(fits)
    return f"{count // size}{name}"


@attrs.frozen(order=True)
class ByteSize:
    """A size in bytes: ``100GB`` (decimal), ``512Mi`` (binary, as Kubernetes writes it), or a plain number."""

    bytes: int = attrs.field(validator=attrs.validators.ge(0))

    EXAMPLE: ClassVar[str] = "'100GB', '512Mi' or '2Gi'"

    @classmethod
    def parse(cls, raw: object) -> ByteSize:
        if isinstance(raw, int) and not isinstance(raw, bool):
            if raw < 0:
                raise NotationError(f"a size cannot be negative, got {raw}")
            return cls._bounded(raw, raw)  # an int as it is: float() would round 2**53 + 1 down, under the bound
        text = _as_text(raw, "a size", cls.EXAMPLE)
        match = _SIZE.match(text)
        unit = _BYTE_UNITS.get(match.group(2).lower()) if match else None
        if match is None or unit is None:
            raise NotationError(f"expected a size such as {cls.EXAMPLE}, got {describe_value(raw)}")
        return cls._bounded(float(match.group(1)) * unit, raw)

    @classmethod
    def _bounded(cls, size: float, raw: object) -> ByteSize:
        if not size <= 2**53:  # also refuses infinity
            raise NotationError(f"the size {describe_value(raw)} is more than 8 PiB")
        return cls(round(size))

    @property
    def gigabytes(self) -> float:
        return self.bytes / 10**9

    @property
    def gibibytes(self) -> float:
        return self.bytes / 2**30

    def format(self) -> str:
        """A whole number of the largest unit that divides the size: ``512Mi``, ``100GB``, ``1500KB``, ``7``."""
        return _whole(self.bytes, _FORMAT_SIZES)

    def kubernetes(self) -> str:
        """The size as a Kubernetes quantity: a whole number with a binary suffix (``512Mi``), else a decimal one
        (``1k``, ``1500M``: ``k`` lower-case, ``M``, ``G``, ``T``), else plain bytes — the suffixes of
        kubernetes/apimachinery ``pkg/api/resource/suffix.go``, which knows no ``K``, ``KB`` or ``MB``."""
        return _whole(self.bytes, _KUBERNETES_SIZES)

    def __str__(self) -> str:
        return self.format()


_CPU = re.compile(rf"^{_NUMBER}\s*(m?)$")


@attrs.frozen(order=True)
class CpuQuantity:
    """CPU as Kubernetes writes it: ``500m`` (millicores), ``2`` or ``0.5`` (cores)."""

    millicores: int = attrs.field(validator=attrs.validators.ge(0))

    EXAMPLE: ClassVar[str] = "'500m', '2' or 0.5"

    @classmethod
    def parse(cls, raw: object) -> CpuQuantity:
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            if not math.isfinite(raw) or raw < 0:
                raise NotationError(f"expected a CPU quantity such as {cls.EXAMPLE}, got {describe_value(raw)}")
            return cls._bounded(raw * 1000, raw)
        text = _as_text(raw, "a CPU quantity", cls.EXAMPLE)
        match = _CPU.match(text)
        if match is None:
            raise NotationError(f"expected a CPU quantity such as {cls.EXAMPLE}, got {describe_value(raw)}")
        value = float(match.group(1))
        return cls._bounded(value if match.group(2) else value * 1000, raw)

    @classmethod
    def _bounded(cls, millicores: float, raw: object) -> CpuQuantity:
        if not millicores <= 10**9:  # also refuses infinity
            raise NotationError(f"the CPU quantity {describe_value(raw)} is more than a million cores")
        return cls(round(millicores))

    @property
    def cores(self) -> float:
        return self.millicores / 1000

    def format(self) -> str:
        return str(self.millicores // 1000) if self.millicores % 1000 == 0 else f"{self.millicores}m"

    def __str__(self) -> str:
        return self.format()


_MACHINE = re.compile(r"^([a-z][a-z0-9]*)-(standard|highmem|highcpu|custom|micro|small|medium)(?:-(\d+))?(?:-(\d+))?$")
_GB_PER_VCPU = {"standard": 4.0, "highmem": 8.0, "highcpu": 1.0}
_SHARED_CORE = {"micro": 1.0, "small": 2.0, "medium": 4.0}


@attrs.frozen
class MachineType:
    """A Compute Engine machine type: ``e2-standard-4`` is the e2 series, 4 vCPUs and 16 GB."""

    name: str
    series: str
    vcpus: int
    memory_gb: float

    EXAMPLE: ClassVar[str] = "'e2-standard-4', 'n2-highmem-8', 'e2-medium' or 'n2-custom-4-16384'"

    @classmethod
    def parse(cls, raw: object) -> MachineType:
        text = _as_text(raw, "a machine type", cls.EXAMPLE)
        match = _MACHINE.match(text)
        if match is None:
            raise NotationError(f"expected a machine type such as {cls.EXAMPLE}, got {describe_value(raw)}")
        series, shape, first, second = match.groups()
        if shape in _SHARED_CORE and first is None:
            return cls(text, series, 2, _SHARED_CORE[shape])
        if shape == "custom" and first is not None and second is not None:
            return cls(text, series, int(first), int(second) / 1024)
        if shape in _GB_PER_VCPU and first is not None and second is None and int(first) > 0:
            return cls(text, series, int(first), int(first) * _GB_PER_VCPU[shape])
        raise NotationError(f"expected a machine type such as {cls.EXAMPLE}, got {describe_value(raw)}")

    def format(self) -> str:
        return self.name

    def __str__(self) -> str:
        return self.name
