"""murmur2 / toPositive / partition choice against Java's and librdkafka's vectors."""
import pytest
from hypothesis import given, strategies as st

from kprod.partitioner import murmur2, partition_for_key, to_positive

# Java UtilsTest.testMurmur2 (signed int32 results).
JAVA_VECTORS = [
    (b"21", -973932308),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (bytes([ord("a"), ord("b"), ord("c")]), 479470107),
]

# librdkafka rdmurmur2.c unit test (unsigned hex), incl. unaligned starts.
_PRE = b"PreAmbleWillBeRemoved,ThePrePartThatIs"
RDKAFKA_VECTORS = [
    (b"kafka", 0xD067CF64), (b"giberish123456789", 0x8F552B0C),
    (b"1234", 0x9FC97B14), (b"234", 0xE7C009CA), (b"34", 0x873930DA), (b"4", 0x5A4B5CA1),
    (_PRE, 0x78424F1C), (_PRE[1:], 0x4A62B377), (_PRE[2:], 0xE0E4E09E), (_PRE[3:], 0x62B8B43F),
    (b"", 0x106E08D9),
]


def _reference_murmur2(data: bytes) -> int:
    """Straight transcription of the algorithm in the spec, in Python ints mod 2^32."""
    mask, m = 0xFFFFFFFF, 0x5BD1E995
    h = (0x9747B28C ^ len(data)) & mask
    n4 = len(data) // 4
    for i in range(n4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & mask
        k ^= k >> 24
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
    tail = data[4 * n4:]
    if len(tail) >= 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if len(tail) >= 1:
        h ^= tail[0]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


@pytest.mark.parametrize("key,expected", JAVA_VECTORS)
def test_java_vectors(key, expected):
    assert murmur2(key) == expected


@pytest.mark.parametrize("key,expected", RDKAFKA_VECTORS)
def test_librdkafka_vectors(key, expected):
    assert murmur2(key) & 0xFFFFFFFF == expected


@pytest.mark.parametrize("key,expected", [
    (b"23456", 0x058D780F),
    (b"this is another string with more length to it perhaps", 0x4F7703DA),
    (b"hejsan", 0x5EC19395),
])
def test_to_positive_vectors(key, expected):
    assert to_positive(murmur2(key)) == expected


@pytest.mark.parametrize("key,partition", [
    (b"", 681), (b"a", 524), (b"ab", 434), (b"abc", 107), (b"123456789", 566), (b"\x00 ", 742),
])
def test_partition_for_key_1000_partitions(key, partition):
    assert partition_for_key(key, 1000) == partition


def test_to_positive_is_not_abs():
    assert to_positive(-1) == 0x7FFFFFFF
    assert to_positive(-(2**31)) == 0
    assert to_positive(5) == 5


def test_bytes_like_inputs_agree():
    key = b"some-key-\xff\x80"
    assert murmur2(bytearray(key)) == murmur2(memoryview(key)) == murmur2(key)


def test_none_is_not_a_key():
    with pytest.raises(TypeError, match="None"):
        murmur2(None)
    with pytest.raises(TypeError):
        partition_for_key(None, 3)


def test_bad_partition_count():
    with pytest.raises(ValueError, match="num_partitions"):
        partition_for_key(b"k", 0)


@given(st.binary(max_size=300))
def test_matches_reference_and_range(data):
    assert murmur2(data) == _reference_murmur2(data)
    assert 0 <= partition_for_key(data, 7) < 7
    assert partition_for_key(data, 7) == (_reference_murmur2(data) & 0x7FFFFFFF) % 7
