"""The import rules that keep callyard's layers apart, checked on the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

import callyard

PACKAGE = Path(callyard.__file__).parent


def imports_of(path: Path) -> set[str]:
    """Every callyard module a file imports, at any level (inside functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name.startswith("callyard.")}


def modules_under(folder: str) -> dict[Path, set[str]]:
    return {path: imports_of(path) for path in sorted((PACKAGE / folder).rglob("*.py"))}


def offending(folder: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    return {
        str(path.relative_to(PACKAGE)): sorted(name for name in names if name.startswith(forbidden))
        for path, names in modules_under(folder).items()
        if any(name.startswith(forbidden) for name in names)
    }


def test_the_switch_knows_nothing_of_services_or_the_store() -> None:
    # The routing table arrives as data (switch.routing.RoutesSource); presence and
    # commands go out through switch.port.SwitchPort.
    assert offending("switch", ("callyard.services", "callyard.store")) == {}


def test_no_dialect_imports_another() -> None:
    dialects = sorted(p.name for p in (PACKAGE / "api" / "dialects").iterdir() if p.is_dir())
    dialects = [name for name in dialects if not name.startswith("__")]
    assert len(dialects) >= 2
    for dialect in dialects:
        others = tuple(f"callyard.api.dialects.{d}" for d in dialects if d != dialect)
        assert offending(f"api/dialects/{dialect}", others) == {}, dialect


def test_services_and_the_dialer_use_the_switch_port_not_the_switch() -> None:
    concrete = ("callyard.switch.switch", "callyard.switch.host", "callyard.switch.sip_stack")
    assert offending("services", concrete) == {}
    assert offending("dialer", concrete) == {}


def test_the_core_renders_no_dialects_payloads() -> None:
    # Services, the dialer and the webhook outbox publish callyard's own events; each
    # dialect renders its callbacks' bodies (handed to the outbox by the composition root).
    for folder in ("services", "dialer", "webhooks", "switch"):
        assert offending(folder, ("callyard.api",)) == {}, folder


def test_the_core_speaks_callyards_words_and_each_dialect_owns_its_codes() -> None:
    # Errors, hangup causes, call kinds, task and line states are callyard's (domain/);
    # each vendor's code tables live in its dialect (api/dialects/<vendor>/code_tables.py),
    # which maps callyard's values onto them.
    assert not (PACKAGE / "codes.py").exists()
    for folder in ("domain", "services", "dialer", "webhooks", "switch", "store"):
        assert offending(folder, ("callyard.api",)) == {}, folder
    assert "callyard.api" not in str(imports_of(PACKAGE / "errors.py"))
    tables = sorted((PACKAGE / "api" / "dialects").glob("*/code_tables.py"))
    assert [path.parent.name for path in tables] == ["sip_api", "voice_code"]
