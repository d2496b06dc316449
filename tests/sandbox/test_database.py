import pytest

from crmframes.sandbox.database import Database, UniqueViolation


@pytest.fixture
def table():
    db = Database()
    return db.create_table("Contact", key="Id", unique={"Ext": False})


def test_insert_replace_delete_keep_the_unique_index(table):
    table.insert({"Id": "1", "Ext": "A-1", "Name": "x"})
    assert table.lookup("Ext", "a-1") == "1"
    table.replace({"Id": "1", "Ext": "A-2", "Name": "y"})
    assert table.lookup("Ext", "A-1") is None
    assert table.lookup("Ext", "A-2") == "1"
    table.delete("1", {"Id": "1", "Ext": "A-2", "IsDeleted": True})
    assert table.lookup("Ext", "A-2") is None
    assert table.bin["1"]["IsDeleted"] is True


def test_unique_violation_names_the_other_record(table):
    table.insert({"Id": "1", "Ext": "A-1"})
    with pytest.raises(UniqueViolation) as info:
        table.insert({"Id": "2", "Ext": "a-1"})
    assert info.value.other_id == "1"


def test_transaction_rolls_back_on_error(table):
    db = table._db
    table.insert({"Id": "1", "Ext": "A-1", "v": 1})

    def failing_batch():
        with db.transaction():
            table.replace({"Id": "1", "Ext": "A-1", "v": 2})
            table.insert({"Id": "2", "Ext": "B"})
            table.delete("1", {"Id": "1"})
            raise RuntimeError

    with pytest.raises(RuntimeError):
        failing_batch()
    assert table.get("1") == {"Id": "1", "Ext": "A-1", "v": 1}
    assert table.get("2") is None
    assert table.bin == {}
    assert table.lookup("Ext", "B") is None


def test_explicit_rollback_and_savepoints(table):
    db = table._db
    with db.transaction() as tx:
        table.insert({"Id": "1", "Ext": "A"})
        mark = tx.savepoint()
        table.insert({"Id": "2", "Ext": "B"})
        tx.rollback_to(mark)
    assert sorted(table.rows) == ["1"]
    with db.transaction() as tx:
        table.insert({"Id": "3", "Ext": "C"})
        tx.rollback()
    assert sorted(table.rows) == ["1"]
