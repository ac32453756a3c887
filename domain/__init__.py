"""The evaluation model (đánh giá, xếp loại cán bộ). Pure: no I/O, no HTTP, no SQL, no clock,
no signature checked here (keys are read with ``ledger.keys``). It imports only ``ledger``
(docs/architecture.md; ``tests/unit/test_architecture.py`` holds it to that)."""
