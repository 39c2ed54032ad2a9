"""The work the JSON API and the portal share, one module per resource.

A service authorizes, validates, changes, audits and tells the hub, in that order; routes and
pages parse the request, call it and render what it returns.
"""
