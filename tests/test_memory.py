"""attento.memory: what the machine can still give, and the refusal before a big allocation."""

from __future__ import annotations

import os

import pytest

from attento import memory
from attento.errors import UserError
from attento.memory import GIB, available_bytes, check_fits


@pytest.fixture
def fake_system(tmp_path, monkeypatch):
    """Point the module at files we write: /proc/meminfo and a cgroup v2 limit."""

    def write(meminfo: str | None = None, limit: str | None = None, usage: str = "0") -> None:
        for name, text in (("meminfo", meminfo), ("memory.max", limit), ("memory.current", usage)):
            path = tmp_path / name
            if text is None:
                path.unlink(missing_ok=True)
            else:
                path.write_text(text)

    monkeypatch.setattr(memory, "MEMINFO", tmp_path / "meminfo")
    monkeypatch.setattr(memory, "CGROUP_LIMIT", tmp_path / "memory.max")
    monkeypatch.setattr(memory, "CGROUP_USAGE", tmp_path / "memory.current")
    return write


MEMINFO = "MemTotal:       32000000 kB\nMemFree:         1000000 kB\nMemAvailable:   20000000 kB\n"


def test_mem_available_is_read_from_proc_meminfo(fake_system):
    fake_system(MEMINFO)
    assert available_bytes() == 20_000_000 * 1024


def test_a_lower_cgroup_limit_wins(fake_system):
    fake_system(MEMINFO, limit=str(8 * GIB), usage=str(3 * GIB))
    assert available_bytes() == 5 * GIB
    fake_system(MEMINFO, limit="max")
    assert available_bytes() == 20_000_000 * 1024


def test_without_meminfo_sysconf_answers(fake_system):
    fake_system(None)
    if not hasattr(os, "sysconf") or "SC_AVPHYS_PAGES" not in os.sysconf_names:
        pytest.skip("this system has no sysconf(SC_AVPHYS_PAGES)")
    expected = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert abs(available_bytes() - expected) < GIB  # free memory moves a little meanwhile


def test_when_nothing_tells_nothing_is_refused(fake_system, monkeypatch):
    fake_system(None)
    monkeypatch.setattr(memory, "_sysconf_available", lambda: None)
    assert available_bytes() is None
    check_fits(10**30, "anything")


def test_the_real_machine_reports_a_plausible_size():
    n = available_bytes()
    assert n is None or 0 < n < 2**60


def test_check_fits_names_both_sizes_in_gib(fake_system):
    fake_system("MemAvailable:    4194304 kB\n")  # 4 GiB
    check_fits(4 * GIB, "exactly what is there")
    with pytest.raises(UserError) as err:
        check_fits(6 * GIB, "training a GPT with 1,500,000,000 parameters")
    assert str(err.value) == (
        "training a GPT with 1,500,000,000 parameters needs 6 GiB of memory, "
        "but only 4 GiB is available"
    )


def test_model_bytes_counts_what_building_the_model_allocates():
    """Counted on the meta device, compared with the real model's own tensors."""
    from attento.models.config import model_bytes
    from attento.registry import arch_class, arch_names

    shape = dict(vocab_size=40, block_size=16, n_layer=2, n_head=2, n_embd=16)
    for arch in arch_names():
        cls = arch_class(arch)
        names = {f for f in cls.config_class.__dataclass_fields__}
        config = cls.config_class.from_dict({k: v for k, v in shape.items() if k in names})
        real = cls(config)
        tensors = [*real.parameters(), *real.buffers()]
        expected = sum(t.numel() * t.element_size() for t in tensors)
        assert model_bytes(cls, config) == (sum(p.numel() for p in real.parameters()), expected)
