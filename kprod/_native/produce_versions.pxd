# Produce versions and the fields' first versions, shared by the encoder
# (produce_request.pyx) and the decoder (produce_response.pyx).
cdef enum:
    PRODUCE_MIN_VERSION = 3
    PRODUCE_MAX_VERSION = 13
    FLEXIBLE_FROM = 9           # KIP-482
    LEADER_HINTS_FROM = 10      # KIP-951
    TOPIC_IDS_FROM = 13         # KIP-516
    RECORD_ERRORS_FROM = 8
    LOG_START_OFFSET_FROM = 5
