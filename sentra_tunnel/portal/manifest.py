"""The web app manifest, so phones can install the portal and open it full-screen."""

from __future__ import annotations

from quart import Blueprint, jsonify

from ..ratelimit import exempt

blueprint = Blueprint("portal_manifest", __name__)

MANIFEST = {
    "name": "Sentra Türen",
    "short_name": "Sentra",
    "start_url": "/",
    "scope": "/",
    "display": "standalone",
    "background_color": "#f8fafc",
    "theme_color": "#0f172a",
    "lang": "de",
    "icons": [
        {"src": "/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png"},
        {"src": "/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png"},
        {
            "src": "/static/icons/icon-maskable-512.png",
            "sizes": "512x512",
            "type": "image/png",
            "purpose": "maskable",
        },
    ],
}


@blueprint.get("/manifest.webmanifest")
@exempt("static metadata for installing the app")
async def manifest():
    """The web app manifest: installable, opens full-screen."""
    response = jsonify(MANIFEST)
    response.mimetype = "application/manifest+json"
    return response
