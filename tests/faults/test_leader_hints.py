"""KIP-951 on the 3-broker cluster: a Produce answered NOT_LEADER_OR_FOLLOWER with the
new leader in the response goes to that leader at once, without a Metadata round trip.

The leader is moved while the old one stays alive (a reassignment that only reorders
the replicas, then a preferred-leader election), so the producer's cached metadata is
stale and its next Produce goes to the old leader, which answers with the hint.
"""
from __future__ import annotations

import json
import subprocess
import time
from typing import Any, List, Tuple

from confluent_kafka import ElectionType, TopicPartition
from confluent_kafka.admin import AdminClient

from kprod import Producer
from kprod.errors import NotLeaderOrFollowerError
from kprod.testing.artifacts import java_executable, kafka_libs_dir, log_config_args

from ..producer.readback import read_all


def _reorder_replicas(cluster, topic: str, replicas: List[int], tmp_path) -> None:
    plan = tmp_path / "reassign.json"
    plan.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": topic, "partition": 0, "replicas": replicas}]}))
    libs = kafka_libs_dir(cluster.version)
    subprocess.run([java_executable(), *log_config_args(cluster.version, "tools"),
                    "-cp", str(libs / "*"),
                    "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
                    "--bootstrap-server", cluster.bootstrap_servers,
                    "--reassignment-json-file", str(plan), "--execute"],
                   check=True, capture_output=True, timeout=120)


def _leader(admin: AdminClient, topic: str) -> int:
    return admin.list_topics(topic, timeout=20).topics[topic].partitions[0].leader


def test_leader_hint_reroutes_the_retry_without_metadata(three_brokers, make_topic, tmp_path):
    topic = make_topic(partitions=1, replication_factor=3, cluster=three_brokers)
    admin = AdminClient({"bootstrap.servers": three_brokers.bootstrap_servers})
    with Producer({"bootstrap.servers": three_brokers.bootstrap_servers,
                   "metadata.max.age.ms": 600_000, "acks": "all"}) as p:
        assert p.send(topic, b"before").get(30).offset == 0
        old_leader = p._metadata.leader_for((topic, 0))
        replicas = list(p._metadata.snapshot.topics[topic].partitions[0].replicas)
        new_leader = next(r for r in replicas if r != old_leader)
        _reorder_replicas(three_brokers, topic,
                          [new_leader] + [r for r in replicas if r != new_leader], tmp_path)
        deadline = time.monotonic() + 60
        while _leader(admin, topic) != new_leader:
            assert time.monotonic() < deadline, "the preferred leader was not elected"
            futures = admin.elect_leaders(ElectionType.PREFERRED, [TopicPartition(topic, 0)])
            try:
                futures.result()
            except Exception:
                pass     # the reassignment may not be visible yet: elect again
            time.sleep(0.5)
        assert p._metadata.leader_for((topic, 0)) == old_leader     # still stale

        events: List[Tuple[str, str, int, Any]] = []
        network = p._sender.network
        send = network.send

        def watched_send(conn, api, body, handler, expect_response=True):
            events.append(("request", api, conn.node_id, None))

            def on_response(response, error):
                code = None
                if api == "Produce" and response is not None:
                    code = response.responses[0].partition_responses[0].error_code
                events.append(("response", api, conn.node_id, code))
                handler(response, error)
            return send(conn, api, body, on_response, expect_response)

        network.send = watched_send
        md = p.send(topic, b"after").get(30)
        assert (md.partition, md.offset) == (0, 1)

    produce = [e for e in events if e[1] == "Produce"]
    assert produce[:2] == [("request", "Produce", old_leader, None),
                           ("response", "Produce", old_leader, NotLeaderOrFollowerError.code)]
    assert produce[2] == ("request", "Produce", new_leader, None)
    # Nothing from a Metadata request was used between the hint and the retry.
    between = events[events.index(produce[1]):events.index(produce[2])]
    assert not [e for e in between if e[:2] == ("response", "Metadata")], events
    assert [m.value for m in read_all(three_brokers.bootstrap_servers, topic, expected=2)] == \
        [b"before", b"after"]
