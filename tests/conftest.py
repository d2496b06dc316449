"""Shared fixtures: sandboxes and clients that trust the sandbox CA (never verify=False)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce

from crmframes import Sandbox
from tests.clients import salesforce_client


@pytest.fixture(scope="session")
def demo_sandbox() -> Iterator[Sandbox]:
    """One demo org shared by read-only tests (do not write to it)."""
    with Sandbox("salesforce", data="demo") as sb:
        yield sb


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A fresh demo org per test, free to be written to."""
    with Sandbox("salesforce", data="demo") as sb:
        yield sb


@pytest.fixture
def empty_sandbox() -> Iterator[Sandbox]:
    with Sandbox("salesforce", data="empty") as sb:
        yield sb


@pytest.fixture(scope="session")
def demo_sf(demo_sandbox: Sandbox) -> Salesforce:
    return salesforce_client(demo_sandbox)


@pytest.fixture
def sf(sandbox: Sandbox) -> Salesforce:
    return salesforce_client(sandbox)


@pytest.fixture
def empty_sf(empty_sandbox: Sandbox) -> Salesforce:
    return salesforce_client(empty_sandbox)


@pytest.fixture(scope="session")
def dv_demo() -> Iterator[Sandbox]:
    """One Dataverse demo environment shared by read-only tests (do not write to it)."""
    with Sandbox("dynamics", data="demo") as sb:
        yield sb


@pytest.fixture
def dv() -> Iterator[Sandbox]:
    """A fresh Dataverse demo environment per test, free to be written to."""
    with Sandbox("dynamics", data="demo") as sb:
        yield sb


@pytest.fixture
def dv_empty() -> Iterator[Sandbox]:
    with Sandbox("dynamics", data="empty") as sb:
        yield sb
