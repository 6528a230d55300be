"""`attain.engine.spool`: a run's results written a batch at a time and read back."""

from decimal import Decimal

import pyarrow as pa
import pytest

from attain.engine.spool import Spool

SCHEMA = pa.schema([pa.field("id", pa.int64()), pa.field("amount", pa.decimal128(18, 2)),
                    pa.field("trace", pa.string())])


def batch(first: int, count: int) -> pa.RecordBatch:
    ids = list(range(first, first + count))
    return pa.record_batch([pa.array(ids, pa.int64()),
                            pa.array([Decimal(i) / 4 for i in ids], pa.decimal128(18, 2)),
                            pa.array([f'["line {i}", "é\\"x"]' for i in ids])], schema=SCHEMA)


def test_batches_come_back_in_order_as_often_as_they_are_read(tmp_path):
    spool = Spool(tmp_path)
    for first in (1, 4, 9):
        spool.write("lines", batch(first, 3 if first < 9 else 2))
    spool.close()
    rows = spool.rows("lines", SCHEMA)

    read = [b.num_rows for b in rows]
    again = pa.Table.from_batches(list(rows))
    assert read == [3, 3, 2]
    assert again.column("id").to_pylist() == [1, 2, 3, 4, 5, 6, 9, 10]
    assert again.column("amount").to_pylist()[:2] == [Decimal("0.25"), Decimal("0.50")]
    assert again.column("trace")[0].as_py() == '["line 1", "é\\"x"]'
    assert spool.counts == {"lines": 8}
    assert rows.table().equals(spool.table("lines"))


def test_a_table_nothing_was_written_to_is_empty_with_its_schema(tmp_path):
    spool = Spool(tmp_path)
    spool.put("payouts", pa.table({"id": [1]}))
    spool.close()

    assert list(spool.rows("lines", SCHEMA)) == []
    assert spool.rows("lines", SCHEMA).table().schema == SCHEMA
    assert spool.table("lines", SCHEMA).num_rows == 0
    assert spool.table("payouts").column("id").to_pylist() == [1]
    with pytest.raises(FileNotFoundError, match="'credits'"):
        spool.table("credits")
