"""The pytest plugin, run the way users run it: a separate pytest process per scenario.

Each scenario writes a small test project with pytester and runs it in a subprocess, so
the plugin is loaded from the installed ``pytest11`` entry point exactly as it is for
users (and the missing-pytest-asyncio case can hide that package).
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

AUTO_MODE_INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""

#: The README's example, verbatim: a user's function tested against an injected 503.
README_EXAMPLE = """
from prolific_async import ProlificClient

async def batch_name(client: ProlificClient, batch_id: str) -> str:  # your code
    return (await client.batches.get(batch_id)).name

async def test_batch_name_survives_a_503(prolific_fake, prolific_client):
    batch = prolific_fake.add_batch(name="Pilot")
    path = f"/api/v1/data-collection/batches/{batch.id}"
    fault = prolific_fake.add_fault("GET", path, "status", status=503)
    assert await batch_name(prolific_client, batch.id) == "Pilot"
    assert fault.fired == 1
    assert prolific_fake.stats.requests["GET", "get_batch"] == 2  # the 503, then the retry
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest in a subprocess, turning every warning (unclosed sockets too) into errors."""
    return pytester.runpytest_subprocess("-W", "error", "-p", "no:cacheprovider", *args)


def test_readme_example_sees_a_retry_against_an_injected_503(pytester: pytest.Pytester) -> None:
    """The README example passes: the client retried the 503 and got the batch."""
    pytester.makeini(AUTO_MODE_INI)
    pytester.makepyfile(test_readme=README_EXAMPLE)
    result = run(pytester)
    result.assert_outcomes(passed=1)


def test_fixtures_are_fresh_per_test_and_cleaned_up_in_strict_mode(
    pytester: pytest.Pytester,
) -> None:
    """Each test gets a new running fake and a fast client; both are closed afterwards."""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        test_lifecycle="""
        import pytest

        seen = []

        @pytest.mark.asyncio
        async def test_first(prolific_fake, prolific_client):
            seen.append((prolific_fake, prolific_client))
            assert prolific_fake.is_running
            assert prolific_client.base_url == prolific_fake.url
            assert prolific_client.retry_policy.wait_max <= 0.01
            assert await prolific_client.batches.list("w") == []

        @pytest.mark.asyncio
        async def test_second(prolific_fake):
            old_fake, old_client = seen[0]
            assert not old_fake.is_running and old_client.is_closed
            assert prolific_fake is not old_fake and prolific_fake.batches == {}
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=2)


def test_code_that_builds_its_own_client_can_point_at_the_fake(
    pytester: pytest.Pytester,
) -> None:
    """A service reading PROLIFIC_URL/PROLIFIC_TOKEN talks to the fake once they are set."""
    pytester.makeini(AUTO_MODE_INI)
    pytester.makepyfile(
        test_env="""
        from prolific_async import ProlificClient, TaskDetails

        async def provision(name):  # a service that makes its own client from env vars
            async with ProlificClient() as client:
                details = TaskDetails(task_name="T", task_introduction="", task_steps="")
                return await client.batches.create(
                    name=name, workspace_id="w", task_details=details
                )

        async def test_provision(prolific_fake, monkeypatch):
            monkeypatch.setenv("PROLIFIC_URL", prolific_fake.url)
            monkeypatch.setenv("PROLIFIC_TOKEN", prolific_fake.token)
            batch = await provision("From env")
            assert prolific_fake.batches[batch.id].name == "From env"
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=1)


def test_without_pytest_asyncio_pytest_still_runs_and_the_fixtures_explain(
    pytester: pytest.Pytester,
) -> None:
    """Without pytest-asyncio other tests run; the fixtures fail saying what to install."""
    # The subprocess has the test directory first on sys.path: hide the real package.
    pytester.mkpydir("pytest_asyncio").joinpath("__init__.py").write_text(
        'raise ImportError("simulated: pytest-asyncio is not installed")\n'
    )
    pytester.makepyfile(
        test_plain="""
        def test_unrelated():
            assert 1 + 1 == 2

        def test_needs_the_fake(prolific_fake):
            pass

        def test_needs_the_client(prolific_client):
            pass
        """
    )
    result = run(pytester, "-p", "no:asyncio")
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(["*fixtures are async and need pytest-asyncio: pip install*"])


# -- the opt-in check that every injected fault fired ------------------------------------

FAULT_TESTS = """
import pytest

PATH = "/api/v1/data-collection/batches/*"

async def test_unfired(prolific_fake, prolific_client):
    prolific_fake.add_fault("GET", "/api/v1/no-such-endpoint", "status", times=2)

async def test_fired_once_of_three(prolific_fake, prolific_client):
    from prolific_async.errors import NotFoundError

    batch = prolific_fake.add_batch()
    fault = prolific_fake.add_fault("GET", PATH, "status", status=404, times=3)
    with pytest.raises(NotFoundError):  # not retried: it fires once
        await prolific_client.batches.get(batch.id)
    assert fault.fired == 1

@pytest.mark.prolific(assert_all_faults_fired=False)
async def test_opted_out(prolific_fake):
    prolific_fake.add_fault("POST", PATH, "drop_after")

async def test_cleared(prolific_fake):
    prolific_fake.add_fault("POST", PATH, "drop_after")
    prolific_fake.clear_faults()
"""


def test_the_fault_check_is_off_by_default(pytester: pytest.Pytester) -> None:
    """Without the ini option or marker, a fault that never fired fails nothing."""
    pytester.makeini(AUTO_MODE_INI)
    pytester.makepyfile(test_faults=FAULT_TESTS)
    run(pytester).assert_outcomes(passed=4)


def test_the_ini_option_fails_a_test_whose_fault_never_fired(pytester: pytest.Pytester) -> None:
    """prolific_assert_all_faults_fired: the unfired fault errors at teardown, named."""
    pytester.makeini(AUTO_MODE_INI + "prolific_assert_all_faults_fired = true\n")
    pytester.makepyfile(test_faults=FAULT_TESTS)
    result = run(pytester)
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_unfired*",
            "*1 injected fault(s) of prolific_fake never fired:",
            "*GET /api/v1/no-such-endpoint status (times=2, probability=1.0)",
        ]
    )


def test_the_marker_turns_the_check_on_for_one_test(pytester: pytest.Pytester) -> None:
    """@pytest.mark.prolific(assert_all_faults_fired=True) checks that test alone."""
    pytester.makeini(AUTO_MODE_INI)
    pytester.makepyfile(
        test_marked="""
import pytest

@pytest.mark.prolific(assert_all_faults_fired=True)
async def test_checked(prolific_fake):
    prolific_fake.add_fault("*", "/never", "drop_before")

async def test_unchecked(prolific_fake):
    prolific_fake.add_fault("*", "/never", "drop_before")
"""
    )
    result = run(pytester, "--strict-markers")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_checked*", "* /never drop_before*"])
