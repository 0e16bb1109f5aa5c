# The RecordBatch v2 (magic 2) layout shared by the writer (batch_builder.pyx) and the
# reader (batch_reader.pyx): Kafka's DefaultRecordBatch header (61 bytes, CRC-32C over
# attributes..end), its attribute bits (KIP-98 transactional) and the CRC call.
# Header-only: no module.
from cpython.buffer cimport PyBUF_READ
from cpython.memoryview cimport PyMemoryView_FromMemory
from libc.stdint cimport uint32_t

# Header fields: byte offsets (DefaultRecordBatch.java).
cdef enum:
    BASE_OFFSET_OFFSET = 0
    LENGTH_OFFSET = 8
    PLE_OFFSET = 12
    MAGIC_OFFSET = 16
    CRC_OFFSET = 17
    ATTRIBUTES_OFFSET = 21
    LAST_OFFSET_DELTA_OFFSET = 23
    BASE_TIMESTAMP_OFFSET = 27
    MAX_TIMESTAMP_OFFSET = 35
    PRODUCER_ID_OFFSET = 43
    PRODUCER_EPOCH_OFFSET = 51
    BASE_SEQUENCE_OFFSET = 53
    RECORDS_COUNT_OFFSET = 57
    HEADER_SIZE = 61                # Java's RECORD_BATCH_OVERHEAD
    OFFSET_LENGTH_SIZE = 12         # base offset + length: Java's LOG_OVERHEAD

# Attribute bits.
cdef enum:
    CODEC_MASK = 0x07
    TIMESTAMP_TYPE_MASK = 0x08
    TRANSACTIONAL_MASK = 0x10
    CONTROL_MASK = 0x20


cdef inline uint32_t batch_crc(object crc32c, const char* p,
                               Py_ssize_t n) except? 0xffffffff:
    """CRC-32C of n bytes at p through ``crc32c`` (the crc32c package's function,
    passed by the caller: a header-only .pxd cannot import). It is hardware
    accelerated and releases the GIL itself for large buffers; one call per batch."""
    cdef object view = PyMemoryView_FromMemory(<char*>p, n, PyBUF_READ)
    try:
        return <uint32_t>crc32c(view)
    finally:
        view.release()
