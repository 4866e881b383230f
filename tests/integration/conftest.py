"""pytest fixtures for baton's integration tests. The helpers they build on, and that every test
imports, are in harness.py."""
import pytest

from harness import Procs, free_port


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
