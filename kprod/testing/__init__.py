"""Test and benchmark support: a real local Apache Kafka (KRaft) started from Maven jars.

Needs a JDK (17+) and Maven on PATH. Topics are created and checked with
:class:`kprod.admin.AdminClient`; nothing here imports confluent-kafka.
"""

from .artifacts import (
    DEFAULT_KAFKA_VERSION,
    KafkaArtifactsError,
    java_tool_command,
    kafka_clients_jar,
    kafka_libs_dir,
    kafka_version,
)
from .cluster import KafkaCluster, KafkaClusterError, stop_all_clusters

__all__ = [
    "DEFAULT_KAFKA_VERSION",
    "KafkaArtifactsError",
    "KafkaCluster",
    "KafkaClusterError",
    "java_tool_command",
    "kafka_clients_jar",
    "kafka_libs_dir",
    "kafka_version",
    "stop_all_clusters",
]
