"""German is complete and the default; catalogues load from the .po files without a build step."""

from __future__ import annotations

from babel.messages.pofile import read_po

from sentra_tunnel.portal import catalogue, i18n


def test_every_message_has_a_german_translation():
    extracted = {message.id for message in catalogue.extract() if message.id}
    with catalogue.po_path("de").open("rb") as handle:
        german = {message.id: message.string for message in read_po(handle) if message.id}
    missing = sorted(message for message in extracted if not german.get(message))
    assert missing == [], "run python -m sentra_tunnel.portal.catalogue and translate these"


def test_german_by_default_and_english_on_request():
    i18n.use_language("xx")
    assert i18n.current_language() == "de"
    assert i18n.gettext("Open") == "Öffnen"
    i18n.use_language("en")
    assert i18n.gettext("Open") == "Open"
    assert i18n.gettext("until %(time)s", time="12:00") == "until 12:00"
    i18n.use_language("de")
    assert i18n.gettext("until %(time)s", time="12:00") == "bis 12:00"
