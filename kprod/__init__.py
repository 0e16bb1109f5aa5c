"""kprod: a fast, correct Kafka producer for Python with a native hot path.

    from kprod import Producer
    with Producer(bootstrap_servers="localhost:9092") as producer:
        producer.send("events", b"hello", key=b"user-42")
"""
from kprod.errors import (  # noqa: F401
    AuthenticationError, AuthorizationError, BrokerError, BufferExhaustedError, ConfigError,
    CorruptRecordError, IllegalStateError, KafkaConnectionError, KafkaError, KafkaTimeoutError,
    ProducerClosedError, ProducerFencedError, ProtocolError, RecordTooLargeError, RetriableError,
    SerializationError, TransactionAbortedError,
)
from kprod.future import RecordFuture, as_completed, wait  # noqa: F401
from kprod.partitioner import (  # noqa: F401
    Partitioner, RoundRobinPartitioner, murmur2, partition_for_key,
)
from kprod.producer import Producer  # noqa: F401
from kprod.record import ProducerRecord, RecordMetadata  # noqa: F401
from kprod.serialization import (  # noqa: F401
    BytesSerializer, DoubleSerializer, FloatSerializer, IntegerSerializer, JsonSerializer,
    LongSerializer, Serializer, ShortSerializer, StringSerializer, UUIDSerializer,
)

__version__ = "0.1.0"

__all__ = [
    "Producer", "ProducerRecord", "RecordMetadata", "RecordFuture", "wait", "as_completed",
    "Serializer", "BytesSerializer", "StringSerializer", "IntegerSerializer",
    "LongSerializer", "ShortSerializer", "DoubleSerializer", "FloatSerializer",
    "UUIDSerializer", "JsonSerializer",
    "Partitioner", "RoundRobinPartitioner", "murmur2", "partition_for_key",
    "KafkaError", "ConfigError", "SerializationError", "RecordTooLargeError",
    "BufferExhaustedError", "KafkaTimeoutError", "ProducerClosedError", "ProducerFencedError",
    "TransactionAbortedError", "IllegalStateError", "KafkaConnectionError", "ProtocolError",
    "AuthenticationError", "BrokerError", "CorruptRecordError", "AuthorizationError",
    "RetriableError",
]
