# SPDX-License-Identifier: MIT
"""pytest fixtures for baton's integration tests. The helpers they build on, and that every test
imports, are in harness.py."""
import pytest

from harness import Procs, free_port, start_web, sweep_orphans


def pytest_sessionstart(session):
    swept = sweep_orphans()
    if swept:
        print(f"killed {len(swept)} processes left behind by a pytest that was killed: {swept}")


@pytest.fixture
def procs(tmp_path):
    manager = Procs(tmp_path)
    yield manager
    problems = manager.teardown()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def port():
    return free_port()


@pytest.fixture(scope="module")
def mprocs(tmp_path_factory, request):
    """Like procs, for the whole module: processes shared by its tests, taken down after them."""
    manager = Procs(tmp_path_factory.mktemp(request.module.__name__))
    yield manager
    problems = manager.teardown()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def web(mprocs):
    """A baton-web with the hello module, shared by the module's tests."""
    return start_web(mprocs)
