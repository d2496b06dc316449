"""The Salesforce protocol of the sandbox (REST, SOQL, Bulk API 2.0, OAuth and SOAP login).

Edge. ``crmframes.sandbox.Sandbox("salesforce")`` is the way in; the modules here are its
parts: schema, ids, values, org state, write engine, SOQL, REST, Bulk, auth, app, demo.
"""

from __future__ import annotations

__all__: list[str] = []
