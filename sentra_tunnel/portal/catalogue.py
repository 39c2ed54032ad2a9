"""Keep the message catalogues in step with the code: `python -m sentra_tunnel.portal.catalogue`.

Extracts every translatable string from the portal's Python code and templates into
`messages.pot`, then merges it into each language's `messages.po` (new strings arrive empty).
"""

from __future__ import annotations

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from ..config import PROJECT_ROOT
from .i18n import CATALOGUE_DIR, LANGUAGES

METHOD_MAP = [
    ("sentra_tunnel/portal/**.py", "python"),
    ("templates/**.html", "jinja2.ext:babel_extract"),
]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}


def extract() -> Catalog:
    catalog = Catalog(project="sentra-tunnel", fuzzy=False)
    found = extract_from_dir(
        PROJECT_ROOT, METHOD_MAP, OPTIONS, keywords=KEYWORDS, comment_tags=("NOTE:",)
    )
    for _filename, _lineno, message, _comments, _context in found:
        catalog.add(message)
    return catalog


def po_path(language: str):
    return CATALOGUE_DIR / language / "LC_MESSAGES" / "messages.po"


def update() -> None:
    template = extract()
    with (CATALOGUE_DIR / "messages.pot").open("wb") as handle:
        write_po(handle, template, omit_header=True, sort_output=True, no_location=True)
    for language in LANGUAGES:
        path = po_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=language)
        else:
            catalog = Catalog(locale=language, project="sentra-tunnel")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        catalog.fuzzy = False
        with path.open("wb") as handle:
            write_po(handle, catalog, sort_output=True, no_location=True, include_previous=False)


if __name__ == "__main__":
    update()
