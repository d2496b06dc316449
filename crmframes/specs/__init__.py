"""Specs: each operation's settings as a checked object that round-trips to YAML, and jobs of them.

Pure. :class:`ImportSpec`, :class:`ExportSpec`, :class:`DeleteSpec`, :class:`DeletedSpec`,
:class:`DedupeSpec`, :class:`MergeSpec` and :class:`ReconcileSpec` hold the arguments of
their operation under the same names, plus what a job step needs in the campaign store. A :class:`Job` is a named
account, a store and a list of steps; :func:`crmframes.runner.run_job` runs it and
``crmframes run job.yaml`` does so from the shell. Accounts live in an accounts file whose
secrets are references (environment, keyring, file), never values.

Examples:
    >>> spec = ExportSpec.from_dict({"object": "Contact", "source": "contacts", "key": "Id"})
    >>> spec.source.table, spec.key, spec.mode
    ('contacts', 'Id', 'auto')
"""

from __future__ import annotations

from crmframes.specs.account_file import (
    Account,
    Accounts,
    AuthSpec,
    CrmAccount,
    SandboxAccount,
    SandboxActivity,
    SecretRef,
    parse_accounts,
)
from crmframes.specs.handling import RejectsSpec, RetrySpec
from crmframes.specs.job import Job
from crmframes.specs.steps import (
    STEP_KINDS,
    AutoIndexSpec,
    DedupeSpec,
    DeletedSpec,
    DeleteSpec,
    ExportSpec,
    ImportSpec,
    MergeSpec,
    ReconcileSpec,
    ReconcileTables,
    Source,
    StepSpec,
    WriteBack,
)

__all__ = [
    "STEP_KINDS",
    "Account",
    "Accounts",
    "AuthSpec",
    "AutoIndexSpec",
    "CrmAccount",
    "DedupeSpec",
    "DeleteSpec",
    "DeletedSpec",
    "ExportSpec",
    "ImportSpec",
    "Job",
    "MergeSpec",
    "ReconcileSpec",
    "ReconcileTables",
    "RejectsSpec",
    "RetrySpec",
    "SandboxAccount",
    "SandboxActivity",
    "SecretRef",
    "Source",
    "StepSpec",
    "WriteBack",
    "parse_accounts",
]
