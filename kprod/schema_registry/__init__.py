"""Schema registry support: a caching REST client and an Avro serializer.

Needs the ``avro`` extra (``pip install 'kprod[avro]'``: fastavro + httpx)::

    from kprod.schema_registry import SchemaRegistryClient, AvroSerializer

    registry = SchemaRegistryClient("http://localhost:8081")
    producer = Producer({"bootstrap.servers": "localhost:9092",
                         "key.serializer": "string",
                         "value.serializer": AvroSerializer(registry, schema)})

Records use the Confluent wire format (magic byte 0, 4-byte schema id, Avro
binary), so Confluent's deserializers (Java, confluent-kafka) read them.
"""
from .avro import (
    MAGIC_BYTE,
    AvroSerializer,
    SubjectNameStrategy,
    record_name_strategy,
    topic_name_strategy,
    topic_record_name_strategy,
)
from .client import (
    CompatibilityResult,
    IncompatibleSchemaError,
    RegisteredSchema,
    Schema,
    SchemaRegistryClient,
    SchemaRegistryError,
    SchemaRegistryUnavailableError,
)

__all__ = [
    "AvroSerializer", "CompatibilityResult", "IncompatibleSchemaError", "MAGIC_BYTE",
    "RegisteredSchema", "Schema", "SchemaRegistryClient", "SchemaRegistryError",
    "SchemaRegistryUnavailableError", "SubjectNameStrategy", "record_name_strategy",
    "topic_name_strategy", "topic_record_name_strategy",
]
