"""The built-in CRM sandbox: emulated CRM orgs over HTTPS on 127.0.0.1.

Edge. ``Sandbox("salesforce")`` serves a Salesforce org that simple-salesforce accepts
unchanged; tests and tutorials steer it with its clock and its fault injection.
"""

from __future__ import annotations

from crmframes.sandbox.clock import Clock
from crmframes.sandbox.faults import Fault, FaultKind, Faults
from crmframes.sandbox.profile import Profile, production_profile
from crmframes.sandbox.service import Sandbox

__all__ = ["Clock", "Fault", "FaultKind", "Faults", "Profile", "Sandbox", "production_profile"]
