"""The store: ids, timestamps, persistence in its TinyDB file, and the query helpers."""

from __future__ import annotations

import copy
import gc
import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from conftest import WORKORDER
from hypothesis import given
from hypothesis import strategies as st
from tinydb import TinyDB

from portal_mock.jsonbody import encoded
from portal_mock.store import LinkStore
from portal_mock.store.ids import ObjectIdFactory
from portal_mock.store.index import IdIndex
from portal_mock.store.querying import DEFAULT_SORT, LinkQuery, paging, parse_datetime, sort_links
from portal_mock.store.snapshot import read_snapshot, write_snapshot


def new_link(store: LinkStore, **fields: object) -> dict[str, object]:
    return store.create({"workorder": WORKORDER, "is_active": True, **fields})


def test_ids_are_24_hex_and_grow_in_creation_order(store: LinkStore) -> None:
    ids = [new_link(store)["_id"] for _ in range(50)]
    assert all(re.fullmatch(r"[0-9a-f]{24}", i) for i in ids), ids
    assert ids == sorted(ids)
    assert len(set(ids)) == 50


def test_id_factory_never_goes_below_an_id_it_has_seen() -> None:
    far_future = "ffffffff0000000000000000"
    factory = ObjectIdFactory(last=far_future)
    assert factory.new() > far_future
    factory.observe("fffffffff000000000000000")
    assert factory.new() > "fffffffff000000000000000"


@pytest.mark.parametrize("reopen_after", ["close", "crash"])
def test_the_newest_id_is_not_reused_after_delete_and_reopen(
    tmp_path: Path, reopen_after: str
) -> None:
    # An id from the far future: a fresh id factory, blind to it, would issue
    # lower ids, so only a store that remembers it passes.
    path = tmp_path / "db.json"
    first = LinkStore(path)
    newest = "fffffff00000000000000000"
    first.reset([{**new_link(first), "_id": newest}])
    assert first.delete(newest)
    if reopen_after == "close":
        first.close()
    else:
        shutil.copytree(tmp_path, tmp_path.parent / "crash")
        first.close()
        path = tmp_path.parent / "crash" / "db.json"
        Path(f"{path}.lock").unlink(missing_ok=True)
    reopened = LinkStore(path)
    assert new_link(reopened)["_id"] > newest
    reopened.close()


def test_update_moves_updated_at_only_when_a_value_changes(store: LinkStore) -> None:
    link = new_link(store)
    time.sleep(0.005)  # timestamps have millisecond resolution: let the clock move
    same = store.update(link["_id"], {"is_active": True})
    changed = store.update(link["_id"], {"is_active": False})
    assert same == link
    assert changed is not None
    assert changed["is_active"] is False
    assert changed["updated_at"] > link["updated_at"]
    assert changed["created_at"] == link["created_at"]


def test_updated_at_moves_on_every_change_even_within_one_millisecond(store: LinkStore) -> None:
    link = new_link(store)
    stamps = [link["updated_at"]]
    for n in range(20):  # far faster than one a millisecond
        changed = store.update(link["_id"], {"metadata": {"n": n}})
        assert changed is not None
        stamps.append(changed["updated_at"])
    assert stamps == sorted(set(stamps)), stamps


def test_updated_at_moves_forward_after_the_clock_is_set_back(
    store: LinkStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = new_link(store)
    monkeypatch.setattr("portal_mock.store.link_store.utc_now", lambda: "2001-01-01T00:00:00.000Z")
    changed = store.update(link["_id"], {"is_active": False})
    assert changed is not None
    assert changed["updated_at"] > link["updated_at"]


def test_a_link_once_returned_never_changes_under_its_reader(store: LinkStore) -> None:
    link = new_link(store, permissions={"can_comment": False}, metadata={"n": 1})
    seen = copy.deepcopy(link)
    read = store.get(link["_id"])
    listed = store.search(LinkQuery(per_page=5))[0]
    store.update(link["_id"], {"permissions": {"can_comment": True}, "metadata": {"n": 2}})
    store.update(link["_id"], {"is_active": False})
    store.delete(link["_id"])
    assert link == seen
    assert read == seen
    assert listed == [seen]


def test_a_reader_that_changes_a_link_it_was_given_changes_nothing_stored(
    store: LinkStore,
) -> None:
    link = new_link(store, metadata={"n": 1})
    for handed in [store.get(link["_id"]), store.search(LinkQuery())[0][0], link]:
        assert handed is not None
        handed["metadata"]["n"] = 99
        handed["is_active"] = False
    assert store.get(link["_id"]) == {**link, "metadata": {"n": 1}, "is_active": True}


def test_a_snapshot_is_read_back_link_by_link_exactly_as_written(tmp_path: Path) -> None:
    """One link per line, taken as it is: the bytes a link was held as come back."""
    links = [encoded({"_id": f"{n:024x}", "text": 'a\nb,}"', "n": 10**30}) for n in range(3)]
    path = tmp_path / "db.json"
    write_snapshot(path, links, f"{9:024x}")
    assert read_snapshot(path) == (links, f"{9:024x}")
    assert json.loads(path.read_text())["links"]["3"] == json.loads(links[2])


def test_a_tinydb_file_in_any_layout_is_read(tmp_path: Path, sample_links: list) -> None:
    path = tmp_path / "db.json"
    with TinyDB(path) as db:
        db.table("links").insert_multiple(sample_links)
    store = LinkStore(path)
    assert store.count() == len(sample_links)
    assert store.get(sample_links[3]["_id"]) == sample_links[3]
    store.close()


def test_a_snapshot_cut_short_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    write_snapshot(path, [encoded({"_id": "0" * 24})], None)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match="cut short"):
        read_snapshot(path)


def test_unknown_ids_are_reported_not_raised(store: LinkStore) -> None:
    unknown = "0123456789abcdef01234567"
    assert store.get(unknown) is None
    assert store.update(unknown, {"is_active": False}) is None
    assert store.delete(unknown) is False


def test_reset_replaces_every_link_and_keeps_their_ids(
    store: LinkStore, sample_links: list
) -> None:
    new_link(store)
    store.reset(sample_links)
    found, paging = store.search(LinkQuery(per_page=100))
    assert paging["total"] == len(sample_links)
    assert {link["_id"] for link in found} == {link["_id"] for link in sample_links}
    assert new_link(store)["_id"] > max(link["_id"] for link in sample_links)


def test_sort_puts_links_without_expiry_first_and_reverse_mirrors(sample_links: list) -> None:
    ascending = sort_links(sample_links, "expiry_date")
    descending = sort_links(sample_links, "-expiry_date")
    assert ascending[0]["expiry_date"] is None
    assert descending == list(reversed(ascending))


def test_sort_by_several_fields_orders_by_each_in_turn(sample_links: list) -> None:
    ordered = sort_links(sample_links, "-is_active,link_type")
    keys = [(not link["is_active"], link["link_type"], link["_id"]) for link in ordered]
    assert keys == sorted(keys)


def test_paging_reports_totals_for_pages_inside_and_past_the_end() -> None:
    assert paging(LinkQuery(page=2, per_page=3), 7) == {
        "page": 2,
        "per_page": 3,
        "total": 7,
        "total_pages": 3,
    }
    assert paging(LinkQuery(page=1, per_page=25), 0)["total_pages"] == 0


SORTABLE = ("_id", "workorder", "link_type", "expiry_date", "is_active", "created_at", "updated_at")
ORDERS = st.lists(
    st.sampled_from(SORTABLE).flatmap(lambda name: st.sampled_from([name, f"-{name}"])),
    min_size=1,
    max_size=3,
    unique_by=lambda part: part.lstrip("-"),
).map(",".join)


@given(
    sort=st.one_of(st.sampled_from([DEFAULT_SORT, "created_at"]), ORDERS),
    page=st.integers(1, 40),
    per_page=st.integers(1, 30),
    removed=st.sets(st.integers(0, 71), max_size=20),
)
def test_every_page_is_the_slice_of_the_full_order(
    store: LinkStore, sample_links: list, sort: str, page: int, per_page: int, removed: set[int]
) -> None:
    """The creation-order index and the top-k selection give what a full sort gives,
    ties in created_at included, after deletes too."""
    twins = [
        {**link, "_id": link["_id"][:-2] + format(n, "02x")}
        for n, link in enumerate(sample_links * 2, start=100)
    ]
    links = [link for n, link in enumerate(sample_links + twins) if n not in removed]
    store.reset(sample_links + twins)
    for n in removed:
        store.delete((sample_links + twins)[n]["_id"])
    found, paged = store.search(LinkQuery(sort=sort, page=page, per_page=per_page))
    start = (page - 1) * per_page
    assert [link["_id"] for link in found] == [
        link["_id"] for link in sort_links(links, sort)[start : start + per_page]
    ]
    assert paged["total"] == len(links)


def test_parse_datetime_reads_rfc3339_variants() -> None:
    assert parse_datetime("2026-01-02t03:04:05z") == parse_datetime("2026-01-02T03:04:05+00:00")
    assert parse_datetime("2016-12-31T23:59:60Z").second == 59
    assert parse_datetime("2026-01-02T05:04:05+02:00") == parse_datetime("2026-01-02T03:04:05Z")


def test_the_default_order_and_its_reverse_are_read_from_the_index_not_sorted(
    store: LinkStore, sample_links: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.reset(sample_links)

    def no_sorting(*_args: object) -> list:
        raise AssertionError("the default order must not sort")

    monkeypatch.setattr("portal_mock.store.link_store.first_rows", no_sorting)
    for sort in (DEFAULT_SORT, DEFAULT_SORT.lstrip("-")):
        found, paged = store.search(LinkQuery(sort=sort, page=2, per_page=5))
        assert [link["_id"] for link in found] == [
            link["_id"] for link in sort_links(sample_links, sort)[5:10]
        ]
        assert paged["total"] == len(sample_links)


def test_a_snapshot_of_the_stores_own_is_never_decoded_whole(
    tmp_path: Path, sample_links: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "db.json"
    first = LinkStore(path)
    first.reset(sample_links)
    first.close()

    def whole(*_args: object) -> None:
        raise AssertionError("read whole")

    monkeypatch.setattr("portal_mock.store.snapshot.AtomicJSONStorage.read", whole)
    reopened = LinkStore(path)
    assert reopened.count() == len(sample_links)
    reopened.close()


@given(
    steps=st.lists(
        st.tuples(st.booleans(), st.sampled_from("ab"), st.integers(0, 40).map(str)),
        max_size=300,
    )
)
def test_the_id_index_answers_as_a_set_per_value_would(steps: list[tuple[bool, str, str]]) -> None:
    """One id, a few in a tuple or many in a set: the ids of a value are those added and
    not discarded since, through growing past and shrinking below each form."""
    index, expected = IdIndex(), {"a": set(), "b": set()}
    for adding, value, link_id in steps:
        if adding:
            index.add(value, link_id)
            expected[value].add(link_id)
        else:
            index.discard(value, link_id)
            expected[value].discard(link_id)
        for each in "ab":
            ids = index.ids(each)
            assert sorted(ids) == sorted(expected[each])


def test_links_add_no_object_for_the_garbage_collector_to_walk(store: LinkStore) -> None:
    # Every full collection walks every tracked object; an object per link made
    # those pauses the worst answers of a write-heavy run (15 to 25 ms at 30,000).
    store.create({"workorder": WORKORDER, "company_namespace": ["acme"]})
    gc.collect()
    before = len(gc.get_objects())
    for n in range(500):
        store.create({"workorder": f"{n:024x}", "company_namespace": ["acme", f"c{n % 3}"]})
    # A row holds a tuple of namespaces: the collector untracks the inner tuple
    # on one pass and the row on the next.
    gc.collect()
    gc.collect()
    assert len(gc.get_objects()) - before < 50


def _decodes_during_open(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[LinkStore, int]:
    """Open the store at ``path``, counting the links it decodes to do so."""
    from portal_mock.store import link_store

    calls = []
    real = link_store.decoded
    monkeypatch.setattr(link_store, "decoded", lambda raw: calls.append(raw) or real(raw))
    reopened = LinkStore(path)
    monkeypatch.setattr(link_store, "decoded", real)
    return reopened, len(calls)


def _contents(store: LinkStore) -> list[object]:
    by_namespace = store.search(LinkQuery(company_namespace=["acme"], sort="expiry_date"))
    by_workorder = store.search(LinkQuery(workorder=WORKORDER, sort="-_id", per_page=100))
    return [sorted(store.export(), key=lambda link: link["_id"]), by_namespace, by_workorder]


def test_a_reopened_store_takes_its_rows_from_the_row_cache_not_its_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "db.json"
    store = LinkStore(path)
    for n in range(30):
        expiry = None if n % 3 else f"2030-01-{n % 28 + 1:02d}T00:00:00+02:00"
        new_link(store, company_namespace=["acme"] if n % 2 else [], expiry_date=expiry)
    expected = _contents(store)
    last = max(link["_id"] for link in store.export())
    store.close()
    assert (tmp_path / "db.json.rows").exists()
    reopened, decoded = _decodes_during_open(path, monkeypatch)
    assert decoded == 0, "start-up decoded links that the row cache holds"
    assert _contents(reopened) == expected
    assert str(new_link(reopened)["_id"]) > last
    reopened.close()


@pytest.mark.parametrize("damage", ["missing", "stale", "garbage"])
def test_a_missing_stale_or_damaged_row_cache_is_rebuilt_from_the_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    path, rows = tmp_path / "db.json", tmp_path / "db.json.rows"
    store = LinkStore(path)
    for n in range(10):
        new_link(store, company_namespace=["acme"], is_active=bool(n % 2))
    expected = _contents(store)
    store.close()
    if damage == "missing":
        rows.unlink()
    elif damage == "stale":
        # As a crash between writing the new rows and renaming the new snapshot leaves it.
        other = LinkStore(tmp_path / "other.json")
        new_link(other)
        other.close()
        os.replace(tmp_path / "other.json.rows", rows)
    else:
        rows.write_bytes(b"\x00garbage")
    reopened, decoded = _decodes_during_open(path, monkeypatch)
    assert decoded == 10
    assert _contents(reopened) == expected
    reopened.close()


@given(
    st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from([f"{n:024x}" for n in range(40)])))
)
def test_an_index_built_at_once_holds_what_adding_one_by_one_does(
    pairs: list[tuple[str, str]],
) -> None:
    one_by_one = IdIndex()
    for value, link_id in pairs:
        one_by_one.add(value, link_id)
    at_once = IdIndex.of(pairs)
    for value in "abcde":
        assert sorted(at_once.ids(value)) == sorted(one_by_one.ids(value))
    assert {type(ids) for ids in at_once.as_dict().values()} <= {str, tuple, set}
