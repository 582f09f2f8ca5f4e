"""Accounts, tokens, principals and their refusals."""

import datetime as dt

import pytest

import supportbot
from conftest import PASSWORD


def test_admin_register_login_principal(engine):
    account = engine.register_admin("Owner@Example.com ", PASSWORD)
    token = engine.login_admin("owner@example.com", PASSWORD)
    assert isinstance(token, str) and token.count(".") == 2
    with engine.principal(token) as p:
        assert p.account_id == account
        assert p.role == "admin" and p.is_admin
        assert p.bot_id is None
        assert p.email == "owner@example.com"
        assert p.token == token
        now = dt.datetime.now(dt.timezone.utc)
        assert now < p.expires < now + dt.timedelta(minutes=31)
        assert "admin" in repr(p)


def test_user_register_login(engine, admin, bot_id):
    account = engine.register_user(bot_id, "ann@example.com", PASSWORD)
    p = engine.principal(engine.login_user(bot_id, "ann@example.com", PASSWORD))
    assert (p.account_id, p.role, p.bot_id, p.is_admin) == (account, "user", bot_id, False)
    assert engine.lookup_account("ann@example.com", bot_id) == account
    assert engine.lookup_account("owner@example.com") == admin.account_id
    issued = engine.principal(engine.issue_token(account))
    assert issued.account_id == account


def test_refusals(engine, admin, bot_id):
    with pytest.raises(supportbot.Conflict) as e:
        engine.register_admin("owner@example.com", PASSWORD)
    assert e.value.status_name == "SB_ECONFLICT"
    with pytest.raises(supportbot.InvalidArgument):
        engine.register_admin("someone@example.com", "short")
    with pytest.raises(supportbot.InvalidArgument):
        engine.register_admin("not-an-email", PASSWORD)
    with pytest.raises(supportbot.Unauthenticated) as e:
        engine.login_admin("owner@example.com", "Wrong-password-1")
    assert e.value.status_name == "SB_EUNAUTHENTICATED" and e.value.message
    with pytest.raises(supportbot.Unauthenticated):
        engine.login_admin("nobody@example.com", PASSWORD)
    with pytest.raises(supportbot.Unauthenticated):
        engine.principal("not.a.token")
    with pytest.raises(supportbot.NotFound):
        engine.register_user("no-such-bot", "bob@example.com", PASSWORD)
    with pytest.raises(supportbot.NotFound):
        engine.lookup_account("nobody@example.com")
    with pytest.raises(supportbot.NotFound):
        engine.issue_token("no-such-account")
    # No principal at all.
    with pytest.raises(supportbot.Unauthenticated):
        engine.bots(None)
    with pytest.raises(TypeError):
        engine.bots(42)


def test_login_limit(tmp_path):
    with supportbot.Engine(f"sqlite://{tmp_path / 'x.db'}", "k" * 32, login_max_failures=2) as e:
        e.register_admin("a@example.com", PASSWORD)
        for _ in range(2):
            with pytest.raises(supportbot.Unauthenticated):
                e.login_admin("a@example.com", "Wrong-password-1")
        with pytest.raises(supportbot.LimitExceeded):
            e.login_admin("a@example.com", PASSWORD)


def test_token_from_another_key_is_refused(engine, tmp_path):
    engine.register_admin("owner@example.com", PASSWORD)
    token = engine.login_admin("owner@example.com", PASSWORD)
    with supportbot.Engine(f"sqlite://{tmp_path / 'bot.db'}", "another-key-" * 3) as other:
        with pytest.raises(supportbot.Unauthenticated):
            other.principal(token)


def test_engine_without_secret_key(tmp_path):
    with supportbot.Engine(f"sqlite://{tmp_path / 'x.db'}") as e:
        with pytest.raises(supportbot.InvalidArgument):
            e.register_admin("a@example.com", PASSWORD)


def test_delete_account(engine, admin, bot_id, user):
    token = user.token
    engine.delete_account(user)  # itself
    with pytest.raises(supportbot.Unauthenticated):
        engine.principal(token)
    with pytest.raises(supportbot.Unauthenticated):
        engine.chat(user, bot_id, "hello")
    # An admin deletes a user of its bot; a token string works as the principal.
    bob = engine.register_user(bot_id, "bob@example.com", PASSWORD)
    engine.delete_account(admin.token, bob)
    with pytest.raises(supportbot.Unauthenticated):
        engine.login_user(bot_id, "bob@example.com", PASSWORD)
    # Another admin may not delete this one.
    engine.register_admin("eve@example.com", PASSWORD)
    eve = engine.principal(engine.login_admin("eve@example.com", PASSWORD))
    with pytest.raises(supportbot.Forbidden):
        engine.delete_account(eve, admin.account_id)
    assert engine.bots(admin)[0].id == bot_id
