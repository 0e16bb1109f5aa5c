"""The pytest plugin (entry point ``pytest11: kprod``) in a project of its own, run by
pytester in a subprocess: its tests produce with kprod and count the records with
AdminClient.list_offsets, so no confluent-kafka is needed there."""
from __future__ import annotations

import sys

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.kafka   # the inner run starts a real broker

PROJECT_TESTS = '''
from kprod import Producer
from kprod.admin import AdminClient

SEEN = []


def test_produce_and_count(kafka_bootstrap, kafka_topic, kafka_cluster):
    assert kafka_bootstrap == kafka_cluster.bootstrap_servers
    with Producer(bootstrap_servers=kafka_bootstrap) as producer:
        for i in range(300):
            producer.send(kafka_topic, b"event-%d" % i, key=b"user-%d" % (i % 17))
        producer.flush()
    with AdminClient(bootstrap_servers=kafka_bootstrap) as admin:
        offsets = admin.list_offsets(kafka_topic)
        partitions = admin.describe_topics(kafka_topic)[kafka_topic].partitions
    assert sorted(p for _, p in offsets) == list(range(6))
    assert all(p.leader is not None for p in partitions)
    assert sum(o.offset for o in offsets.values()) == 300
    SEEN.append(kafka_topic)


def test_each_test_gets_a_fresh_topic_and_the_last_one_is_gone(kafka_bootstrap, kafka_topic):
    assert SEEN and kafka_topic != SEEN[0]
    with AdminClient(bootstrap_servers=kafka_bootstrap) as admin:
        assert sum(o.offset for o in admin.list_offsets(kafka_topic).values()) == 0
        topics = admin.list_topics()
    assert kafka_topic in topics
    assert SEEN[0] not in topics          # deleted after its test


def test_one_broker_by_default(kafka_cluster):
    assert kafka_cluster.broker_ids == [1]
'''


def test_fixtures_in_a_project_of_their_own(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_events=PROJECT_TESTS)
    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider", timeout=300)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_produce_and_count PASSED*"])


def test_options_are_registered_and_checked(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*--kafka-brokers=N*", "*--kafka-version=V*"])
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    bad = pytester.runpytest_subprocess("--kafka-brokers", "0")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--kafka-brokers must be >= 1, got 0*"])


def test_the_plugin_can_be_switched_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_off="def test_off(kafka_topic):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:kprod")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'kafka_topic' not found*"])


def test_importing_kprod_testing_installs_no_exit_handlers(pytester: pytest.Pytester) -> None:
    # A fresh interpreter: atexit and SIGTERM are untouched by the import (and by the
    # plugin's import); a started cluster installs them (tests/testing covers stopping).
    script = pytester.makepyfile(check='''
import atexit, signal
registered = []
register = atexit.register
def recording(function, *args, **kwargs):
    registered.append(f"{function.__module__}.{function.__qualname__}")
    return register(function, *args, **kwargs)
atexit.register = recording
import kprod.testing, kprod.pytest_plugin, kprod.admin
ours = [name for name in registered if name.startswith("kprod")]
assert not ours, f"atexit handlers installed on import: {ours}"
assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, "SIGTERM handler on import"
print("clean")
''')
    result = pytester.run(sys.executable, str(script))
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["clean"])
