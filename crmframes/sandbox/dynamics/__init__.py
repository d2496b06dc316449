"""The Dynamics 365 / Dataverse protocol of the sandbox (identity, Web API, $batch).

Edge. ``crmframes.sandbox.Sandbox("dynamics")`` is the way in; the modules here are its
parts: schema, values, org state, write engine, OData query, Web API, batch, identity, app, demo.
"""

from __future__ import annotations

__all__: list[str] = []
