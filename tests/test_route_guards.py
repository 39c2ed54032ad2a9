"""Every /api/ view says who may call it: the role it needs, or a login where the service decides
(visibility first, so another tenant's door is 404 before a role is asked). A test guards it."""

from __future__ import annotations

from tests.support.api import error_code

# The Pi trades its one-time registration token here; it has no session and no key yet.
WITHOUT_LOGIN = {"devices.register"}


def api_rules(app) -> list:
    return [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")]


def declares_a_guard(view) -> bool:
    return bool(getattr(view, "required_role", None) or getattr(view, "require_login", False))


def test_every_api_view_declares_its_guard(app):
    missing = sorted(
        rule.endpoint
        for rule in api_rules(app)
        if rule.endpoint not in WITHOUT_LOGIN
        and not declares_a_guard(app.view_functions[rule.endpoint])
    )
    assert missing == []


def test_the_exemptions_exist(app):
    assert {rule.endpoint for rule in api_rules(app)} >= WITHOUT_LOGIN


def guarded_calls(app) -> list[tuple[str, str]]:
    """(method, path) of every guarded /api/ route, with each id filled in as 1."""
    calls = []
    for rule in api_rules(app):
        if rule.endpoint in WITHOUT_LOGIN:
            continue
        path = rule.rule
        for argument in rule.arguments:
            path = path.replace(f"<int:{argument}>", "1")
        calls += [(method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return calls


async def test_every_guarded_view_wants_a_session_first(app, client):
    answers = {}
    for method, path in guarded_calls(app):
        response = await getattr(client.client, method.lower())(path)
        answers[f"{method} {path}"] = (response.status_code, await error_code(response))
    assert len(answers) >= 20
    assert set(answers.values()) == {(401, "not_authenticated")}, answers
