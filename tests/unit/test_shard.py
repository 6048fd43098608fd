"""`make test` splits the window tests over processes with `--shard K/N` (tests/conftest.py):
every test runs in exactly one share, a file's tests stay together and in order, the shares
are balanced by the files' times, and the leak check and the hit walk each come first in a
share of their own."""
import pytest

from tests.conftest import SHARD_SECONDS, _shard


class Item:
    def __init__(self, nodeid):
        self.nodeid = nodeid


class Config:
    def __init__(self, spec):
        self.spec = spec
        self.deselected = []
        self.hook = self

    def getoption(self, name):
        assert name == "shard"
        return self.spec

    def pytest_deselected(self, items):
        self.deselected.extend(items)


def window_items():
    names = sorted(SHARD_SECONDS) + ["test_new_one.py"]
    return [Item(f"tests/ui/{name}::test_{i}") for name in names for i in range(3)]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_every_test_runs_in_exactly_one_share_with_its_file(n):
    items = window_items()
    shares = []
    for k in range(1, n + 1):
        config = Config(f"{k}/{n}")
        kept = _shard(config, list(items))
        assert sorted(map(id, kept + config.deselected)) == sorted(map(id, items))
        shares.append(kept)
    assert sorted(id(i) for share in shares for i in share) == sorted(map(id, items))
    for share in shares:
        by_file = {}
        for item in share:
            by_file.setdefault(item.nodeid.split("::")[0], []).append(item.nodeid)
        for path, nodeids in by_file.items():
            assert nodeids == [i.nodeid for i in items if i.nodeid.startswith(path + "::")]


def test_the_shares_are_balanced_and_the_leak_check_and_hit_walk_come_first_apart():
    items = window_items()
    firsts, loads = [], []
    for k in (1, 2):
        share = _shard(Config(f"{k}/2"), list(items))
        firsts.append(share[0].nodeid.split("::")[0].rsplit("/", 1)[-1])
        files = {i.nodeid.split("::")[0].rsplit("/", 1)[-1] for i in share}
        loads.append(sum(SHARD_SECONDS.get(f, 9) for f in files))
    assert sorted(firsts) == ["test_hits.py", "test_memory.py"]
    assert abs(loads[0] - loads[1]) <= max(SHARD_SECONDS.values()) / 4, loads
    alone = _shard(Config("1/1"), list(items))
    assert [i.nodeid.split("::")[0].rsplit("/", 1)[-1] for i in alone[:6]] == \
        ["test_memory.py"] * 3 + ["test_hits.py"] * 3


def test_without_the_option_nothing_changes_and_a_wrong_share_is_refused():
    items = window_items()
    assert _shard(Config(None), items) is items
    with pytest.raises(pytest.UsageError):
        _shard(Config("3/2"), items)
