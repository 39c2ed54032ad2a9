"""Every /api/ view says who may call it: the role it needs, or a login where the service decides
(visibility first, so another tenant's door is 404 before a role is asked). Every route says how
often it may be called, or why it needs no limit. Tests walk the URL map to guard both."""

from __future__ import annotations

from limits import parse as parse_limit

from tests.support.api import error_code

# The Pi trades its one-time registration token here; it has no session and no key yet.
WITHOUT_LOGIN = {"devices.register"}


# Quart serves these from disk with cache headers; one page load fetches a dozen at once.
NO_RATE_LIMIT = {"static": "files, not a view of ours"}
EXEMPT = "exempt: "


def rate_limit_problem(app, view) -> str | None:
    """What is wrong with a view's rate-limit declaration, or None."""
    declared = getattr(view, "rate_limit", None)
    if not declared:
        return "declares neither a limit nor an exemption"
    if declared.startswith(EXEMPT):
        reason = declared.removeprefix(EXEMPT)
        return None if len(reason.split()) >= 3 else f"exempt without a reason: {declared!r}"
    limit = getattr(app.config["SETTINGS"], declared, None)
    if not isinstance(limit, str):
        return f"names no setting: {declared!r}"
    parse_limit(limit)  # a setting that is no limit raises here
    return None


def test_every_route_declares_its_rate_limit_or_why_it_has_none(app):
    problems = {
        f"{rule.rule} ({rule.endpoint})": problem
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in NO_RATE_LIMIT
        and (problem := rate_limit_problem(app, app.view_functions[rule.endpoint]))
    }
    assert problems == {}


def test_the_guard_sees_a_route_without_a_declaration(app):
    async def new_view():
        return ""

    assert rate_limit_problem(app, new_view) == "declares neither a limit nor an exemption"
    new_view.rate_limit = "exempt: later"
    assert rate_limit_problem(app, new_view).startswith("exempt without a reason")
    new_view.rate_limit = "no_such_limit"
    assert rate_limit_problem(app, new_view).startswith("names no setting")


def test_the_unlimited_routes_exist(app):
    assert {rule.endpoint for rule in app.url_map.iter_rules()} >= set(NO_RATE_LIMIT)


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
