"""AdminClient on the 3-node cluster: replicas across brokers, ListOffsets to several
leaders, every broker's view, a dead leader."""
from __future__ import annotations

import pytest

from kprod import Producer
from kprod.admin import AdminClient, NewTopic
from tests.faults.support import restore
from tests.producer.readback import end_offsets

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def test_replicated_topic_offsets_from_every_leader(three_brokers, request) -> None:
    name = f"admin-rf3-{request.node.name}"
    bootstrap = three_brokers.bootstrap_servers
    with AdminClient(bootstrap_servers=bootstrap) as admin:
        cluster = admin.describe_cluster()
        assert [b.node_id for b in cluster.brokers] == [1, 2, 3]
        assert cluster.controller_id in (1, 2, 3)
        admin.create_topics([NewTopic(name, 6, 3, {"min.insync.replicas": 2})])
        partitions = admin.describe_topics(name)[name].partitions
        assert {p.leader for p in partitions} == {1, 2, 3}     # spread over the brokers
        for p in partitions:
            assert sorted(p.replicas) == [1, 2, 3] and sorted(p.isr) == [1, 2, 3]
        for node in (1, 2, 3):                                 # each broker's own view
            seen = admin.describe_topics(name, node=node)[name].partitions
            assert [q.leader for q in seen] == [p.leader for p in partitions]
        assert admin.describe_configs(name)["min.insync.replicas"].value == "2"
        with Producer(bootstrap_servers=bootstrap) as producer:
            for i in range(600):
                producer.send(name, b"v%d" % i, key=b"k%d" % i)
            producer.flush(60)
        offsets = admin.list_offsets(name)
        assert sum(o.offset for o in offsets.values()) == 600
        assert {p: o.offset for (_, p), o in offsets.items()} == end_offsets(bootstrap, name)

        victim = partitions[0].leader
        three_brokers.kill_broker(victim)
        try:
            # Leadership moves to a survivor; ListOffsets follows it (retrying the
            # dead leader's NOT_LEADER / connection errors within the timeout).
            moved = admin.list_offsets([(name, 0)], timeout=60)[(name, 0)]
            assert moved.offset == offsets[(name, 0)].offset
            admin.wait_for_leaders(name, timeout=60)
            leaders = {p.leader for p in admin.describe_topics(name)[name].partitions}
            assert victim not in leaders and None not in leaders
        finally:
            restore(three_brokers, name)
        admin.delete_topics(name)
        assert name not in admin.list_topics()

