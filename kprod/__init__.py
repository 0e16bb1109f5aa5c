"""kprod: a fast, correct Kafka producer for Python with a native hot path."""
from kprod.errors import (  # noqa: F401
    BufferExhaustedError, ConfigError, CorruptRecordError, KafkaError, KafkaTimeoutError,
    ProducerClosedError, RecordTooLargeError, SerializationError,
)

__version__ = "0.1.0"
