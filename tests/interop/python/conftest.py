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


@pytest.fixture
def js_server(launcher) -> Server:
    """A server with JetStream enabled (`-js -sd <tmp>/js-store-N`); restart it on the
    same store with `launcher.restart(js_server, signal.SIGTERM or SIGKILL)`."""
    return launcher.start(jetstream=True)


def pytest_report_header(config):
    return [
        f"interop: INTEROP_KIND={os.environ.get('INTEROP_KIND', 'sluice')} "
        f"INTEROP_SERVER={os.environ.get('INTEROP_SERVER', REPO_ROOT / 'target/debug/sluice')}"
    ]
