"""The NIST SP 800-63B password policy (issue 9, item 6) and refusal messages (item 9)."""

from __future__ import annotations

from importlib import resources

import pytest

from backend.auth import passwords
from backend.auth.members import unscoped_add_member_in_own_transaction
from backend.auth.principal import Principal
from backend.auth.service import require
from backend.core.errors import BadInput, Forbidden
from backend.runtime import Runtime
from tests.factories import World, unique
from tests.graphql import GraphQLClient

EMAIL = "zhang.wei@example.cn"


@pytest.mark.parametrize(
    "password",
    [
        "12345678",  # the probe's
        " " * 8,
        "\0" * 8,
        "\u3000" * 10,  # ideographic spaces
        "password",
        "iloveyou",
        "qwertyuiop",
        "1qaz2wsx",
        "PASSWORD",  # the list is compared case-insensitively
        "ｐａｓｓｗｏｒｄ",  # full-width: NFKC makes it "password"
        "aaaaaaaaaaaa",
        "abababab",
        "密码密码密码密码",
        "abcdefghij",
        "98765432",
        "zhang.wei@example.cn",
        "zhang.wei",
        "zhang.wei2026",
        "anjian2026",
        "tab\there-pass",  # a control character
        "1234567",  # too short
        "q7-" + "mountain river " * 20,  # too long
    ],
)
def test_refused(password: str) -> None:
    with pytest.raises(BadInput):
        passwords.check_password(password, email=EMAIL)


@pytest.mark.parametrize(
    "password",
    [
        "correct-horse-9",
        "Tr0ub4dor&3xx",
        "安全生产人人有责2026",
        "my dog likes the 7:40 train",  # spaces inside are fine
        "😀 emoji are fine too",
        "a" + "bcdefgh1" * 8,  # 65 characters
    ],
)
def test_accepted(password: str) -> None:
    passwords.check_password(password, email=EMAIL)


def test_no_composition_rules_and_a_long_maximum() -> None:
    passwords.check_password("all lower case words here", email=EMAIL)
    passwords.check_password("q7" + "mountain river " * 16, email=EMAIL)  # 242 characters
    assert passwords.MAX_PASSWORD_LENGTH >= 64


def test_the_bundled_list_is_large_and_documented() -> None:
    assert len(passwords.common_passwords()) >= 10_000
    folder = resources.files("backend.auth")
    provenance = folder.joinpath("common_passwords.md").read_text(encoding="utf-8")
    assert "Django" in provenance and "zxcvbn" in provenance
    licences = folder.joinpath("common_passwords.LICENSES.txt").read_text(encoding="utf-8")
    assert "BSD" in licences and "MIT" in licences


def test_nfkc_forms_are_one_password() -> None:
    stored = passwords.hash_password("Ｓecret-ｐass-42", 10)
    assert passwords.verify_password("Secret-pass-42", stored, 10)
    assert passwords.verify_password("Ｓecret-ｐass-42", stored, 10)
    assert not passwords.verify_password("Secret-pass-43", stored, 10)


async def test_the_policy_holds_for_command_line_accounts(runtime: Runtime, world: World) -> None:
    with pytest.raises(BadInput):
        await unscoped_add_member_in_own_transaction(
            sessions=runtime.sessions,
            principal=Principal.system(),
            domain=f"tenant:{world.a.tenant_id}",
            email=f"weak.{unique('w')}@example.cn",
            role="viewer",
            password="12345678",
            log2_n=runtime.log2_n,
        )


async def test_create_tenant_refuses_a_common_owner_password(
    api: GraphQLClient, world: World
) -> None:
    result = await api.query(
        'mutation($n: String!, $e: String!) { createTenant(name: $n, divisionCode: "320100",'
        ' industry: "chemical", ownerEmail: $e, ownerPassword: "password1") { id } }',
        {"n": unique("弱密码"), "e": f"{unique('o')}@example.cn"},
        as_user=world.platform_admin,
    )
    assert result.code == "BAD_USER_INPUT", result.body


def test_refusals_name_the_action_not_casbins_wildcard(runtime: Runtime, world: World) -> None:
    viewer = Principal("user", id=None, grants=())
    with pytest.raises(Forbidden) as refused:
        require(runtime.authz, viewer, f"tenant:{world.a.tenant_id}", "alarm", "*")
    assert "*" not in refused.value.message
    assert "manage alarm" in refused.value.message
    with pytest.raises(Forbidden) as named:
        require(
            runtime.authz,
            viewer,
            f"tenant:{world.a.tenant_id}",
            "alarm",
            "*",
            operation="create notification channels",
        )
    assert "may not create notification channels" in named.value.message
