"""``services.<name>.depends_on`` in the platform file: how it loads (errors at their place) and the checks rule
``release-dependencies`` (a dependency on an unknown service, on itself, or a cycle)."""

from __future__ import annotations

from importlib import resources

from hypothesis import given

from findly_infra.config.loader import validate_platform_text
from findly_infra.domain import checks
from findly_infra.domain.environment import Service
from findly_infra.domain.platform import Platform, Severity
from findly_infra.domain.releases import dependency_order
from findly_infra.testing.strategies import cyclic_dependency_graphs, dependency_graphs

EXAMPLE = resources.files("findly_infra.examples").joinpath("findly.yaml").read_text()


def _platform(graph: dict[str, tuple[str, ...]]) -> Platform:
    return Platform(environments=(), services=tuple(Service(name, depends_on=needs) for name, needs in graph.items()))


def _findings(platform: Platform) -> list[tuple[str, str]]:
    return [(".".join(map(str, f.path)), f.message) for f in checks.release_dependencies(platform)]


def test_the_example_declares_findlys_dependencies_and_orders_a_release_by_them() -> None:
    report = validate_platform_text(EXAMPLE)
    assert report.ok
    assert report.platform is not None
    dependencies = report.platform.dependencies
    assert dependencies["fn-matcher"] == ("fn-posts",)
    assert dependencies["fn-notifications"] == ("fn-matcher",)
    order = dependency_order(dependencies, ["fn-notifications", "fn-matcher", "fn-posts"])
    assert order == ("fn-posts", "fn-matcher", "fn-notifications")
    assert not [w for w in report.warnings if w.rule == "release-dependencies"]


def test_depends_on_of_the_wrong_shape_is_an_error_at_its_place() -> None:
    text = EXAMPLE.replace("depends_on: [fn-posts]", "depends_on: fn-posts")
    report = validate_platform_text(text)
    assert [(e.path, e.message) for e in report.errors] == [
        ("services.fn-matcher.depends_on", "expected a list, got text ('fn-posts')")
    ]
    report = validate_platform_text(EXAMPLE.replace("depends_on: [fn-posts]", "depends_on: [fn-posts, 3]"))
    assert [e.path for e in report.errors] == ["services.fn-matcher.depends_on[1]"]


def test_an_unknown_service_itself_or_a_cycle_is_an_error_naming_depends_on() -> None:
    text = EXAMPLE.replace("depends_on: [fn-posts]", "depends_on: [fn-post, fn-matcher]")
    report = validate_platform_text(text)
    assert [(e.path, e.message, e.rule) for e in report.errors] == [
        (
            "services.fn-matcher.depends_on",
            "unknown service 'fn-post' (did you mean 'fn-posts'?); known: fn-posts, fn-notifications",
            "release-dependencies",
        ),
        ("services.fn-matcher.depends_on", "fn-matcher depends on itself", "release-dependencies"),
    ]
    cycle = EXAMPLE.replace("depends_on: [fn-posts]", "depends_on: [fn-posts, fn-notifications]")
    report = validate_platform_text(cycle)
    assert [(e.path, e.message) for e in report.errors] == [
        (
            "services.fn-notifications.depends_on",
            "dependency cycle: fn-notifications -> fn-matcher -> fn-notifications: no release could roll these "
            "services out in an order",
        )
    ]


def test_a_dependency_on_a_service_named_elsewhere_is_known() -> None:
    """``all_services``: a service an ingress backend or an autoscaler names is a service of the platform."""
    report = validate_platform_text(EXAMPLE.replace("depends_on: [fn-posts]", "depends_on: [fn-search]"))
    assert [e.rule for e in report.errors] == ["release-dependencies"]
    assert report.errors[0].message.endswith("known: fn-posts, fn-notifications")


@given(dependency_graphs())
def test_dependencies_without_a_cycle_pass(graph: dict[str, tuple[str, ...]]) -> None:
    assert _findings(_platform(graph)) == []


@given(cyclic_dependency_graphs())
def test_every_cycle_is_an_error(graph: dict[str, tuple[str, ...]]) -> None:
    findings = list(checks.release_dependencies(_platform(graph)))
    assert findings
    assert all(f.severity is Severity.ERROR and f.rule == "release-dependencies" for f in findings)
    assert all(f.path[0] == "services" and f.path[2] == "depends_on" for f in findings)
