"""pytest fixtures for the interop suite; the launcher itself is interop_server.py."""

import os

import pytest

from interop_server import REPO_ROOT, Launcher, Server


@pytest.fixture
def launcher(tmp_path):
    lx = Launcher(tmp_path)
    try:
        yield lx
    finally:
        lx.stop_all()


@pytest.fixture
def server(launcher) -> Server:
    """A server with no authentication."""
    return launcher.start()


def pytest_report_header(config):
    return [
        f"interop: INTEROP_KIND={os.environ.get('INTEROP_KIND', 'sluice')} "
        f"INTEROP_SERVER={os.environ.get('INTEROP_SERVER', REPO_ROOT / 'target/debug/sluice')}"
    ]
