"""SIP passwords that are easy to guess are refused when extensions are created, unless
the administrator insists."""

from __future__ import annotations

import httpx
import pytest

from callyard.security import new_sip_password, sip_password_weakness
from callyard.testing.server import callyard
from tests.conftest import ADMIN_KEY

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("Ab1-x", "shorter than 8 characters"),
        ("12345678", "one kind of character"),
        ("abcdefghij", "one kind of character"),
        ("aaaa1111", "fewer than 4 different characters"),
        ("x-10010001", "contains the extension number"),
        ("Password123", "a common word (password)"),
        ("s3cret!!", None),  # "scret" is no word of the list
        ("secret123", "a common word (secret)"),
    ],
)
def test_weak_passwords_are_named_with_the_reason(password: str, why: str | None) -> None:
    weakness = sip_password_weakness(password, ["10010001"])
    assert (weakness is None) if why is None else (weakness is not None and why in weakness)


def test_generated_passwords_are_never_weak() -> None:
    assert all(sip_password_weakness(new_sip_password()) is None for _ in range(500))


async def test_the_admin_api_refuses_a_weak_password_unless_forced(
    http: httpx.AsyncClient,
) -> None:
    code = (await http.post("/admin/companies", json={"name": "x"}, headers=AUTH)).json()[
        "companycode"
    ]
    url = f"/admin/companies/{code}/extensions"
    weak = await http.post(url, json={"numbers": ["7001"], "password": "123456"}, headers=AUTH)
    assert weak.status_code == 422
    assert weak.json()["error"].startswith("invalid password: too easy to guess")
    listed = await http.get(url, headers=AUTH)
    assert listed.json() == []  # nothing half-created
    forced = await http.post(
        url,
        json={"numbers": ["7001"], "password": "123456", "allow_weak_password": True},
        headers=AUTH,
    )
    assert forced.status_code == 201
    assert forced.json()[0]["password"] == "123456"


def test_the_cli_refuses_a_weak_password_unless_forced(db_url: str) -> None:
    db = ("--db-url", db_url)
    code = str(callyard("company", "create", "--name", "Acme", *db)["companycode"])
    create = ("extension", "create", "--company", code, "--number", "7001", *db)
    refused = callyard(*create, "--password", "7001-7001", check=False)
    assert refused.returncode != 0
    assert "too easy to guess: contains the extension number" in refused.stderr
    made = callyard(*create, "--password", "7001-7001", "--allow-weak-password")
    assert made[0]["password"] == "7001-7001"
