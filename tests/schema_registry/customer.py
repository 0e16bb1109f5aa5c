"""The seed's Customer record, shared by the schema-registry tests.

Its default is fixed: JSON null, not the string "null" (invalid Avro for a
union whose first branch is null)."""
from __future__ import annotations

import dataclasses
from typing import Optional

CUSTOMER = {
    "namespace": "customerManagement.avro", "type": "record", "name": "Customer",
    "fields": [
        {"name": "id", "type": "int"},
        {"name": "name", "type": "string"},
        {"name": "email", "type": ["null", "string"], "default": None},
    ],
}


@dataclasses.dataclass
class Customer:
    id: int
    name: str
    email: Optional[str] = None
