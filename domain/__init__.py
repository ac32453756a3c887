"""The evaluation model (đánh giá, xếp loại cán bộ). Pure: no I/O, no HTTP, no SQL, no crypto."""
