"""Regenerates the lazy export table of ``findly_infra.domain`` from each module's ``__all__``.

Run after adding a public name to a domain module: ``python scripts/domain_exports.py``.
tests/test_architecture.py checks that the table and the modules agree.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "findly_infra" / "domain"


def exports() -> dict[str, str]:
    table: dict[str, str] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name == "__init__.py":
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
                for name in ast.literal_eval(node.value):
                    table[name] = f"findly_infra.domain.{path.stem}"
    return dict(sorted(table.items()))


def main() -> None:
    init = PACKAGE / "__init__.py"
    text = init.read_text()
    table = exports()
    head = "_EXPORTS = {\n" + "".join(f'    "{name}": "{module}",\n' for name, module in table.items()) + "}\n"
    text = re.sub(r"_EXPORTS = \{\n.*?\n\}\n", head, text, count=1, flags=re.S)
    names = "__all__ = [\n" + "".join(f'    "{name}",\n' for name in sorted(table)) + "]\n"
    text = re.sub(r"__all__ = \[\n.*?\n\]\n", names, text, count=1, flags=re.S)
    modules: dict[str, list[str]] = {}
    for name, module in table.items():
        modules.setdefault(module, []).append(name)
    imports = "".join(
        f"    from {module} import (\n" + "".join(f"        {name},\n" for name in sorted(found)) + "    )\n"
        for module, found in sorted(modules.items())
    )
    text = re.sub(r"if TYPE_CHECKING:\n.*\Z", "if TYPE_CHECKING:\n" + imports, text, count=1, flags=re.S)
    init.write_text(text)


if __name__ == "__main__":
    main()
