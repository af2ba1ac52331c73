"""The network's closed-form checks (mesh latency, a hot link, the mesh's bisection, die-to-die
bandwidth and latency over the HyperX) and fault injection: breaking one network path of the
engine must make `smash validate` fail."""
import pytest

from simulator.machine import load_config
from simulator.machine import validate as V
from simulator.machine.sim import (FAULT_FREE_REQUESTS, FAULT_NO_HOP, FAULT_NO_HYPERX_OCC,
                                   FAULT_NO_MESH_OCC, Simulation, network_tables)


def _network(cfg, fault=0):
    return {r["name"]: r for r in (c() for c in V.network_checks(cfg, _fault=fault)) if r}


def test_network_checks_pass_and_apply_where_they_should():
    die = _network(load_config("piuma-die"))
    assert set(die) == {"mesh_latency", "mesh_hotspot_link", "mesh_bisection_uniform"}
    node = _network(load_config("piuma-node"))
    assert set(node) == set(die) | {"hyperx_die_pair_bandwidth", "hyperx_all_to_all",
                                    "hyperx_latency_1_hops", "hyperx_latency_2_hops"}
    assert _network(load_config("piuma-core")) == {}       # one core: no mesh, no links
    for r in list(die.values()) + list(node.values()):
        assert r["ok"], r


def test_closed_forms_from_the_parameters():
    cfg = load_config("piuma-die")
    bw = cfg.network.mesh_link_bytes_per_cycle
    # 2 x 4 mesh, uniform traffic: the middle cut, 2 links each way, carries 32 of 56 pairs
    assert V.mesh_bisection_bound(cfg) == pytest.approx(2 * 2 * bw / (32 / 56))
    assert V.mesh_distance(cfg, 7, 0) == 4
    one = load_config("piuma-node", ["network.interface_routers=[0]"])
    # every link of a die at router 0 of a 2 x 4 mesh: X first, so the traffic for cores 1-3 and
    # 5-7 leaves it eastward, 6 / 8 of the die's incoming traffic (1 / 16 of all of it)
    assert V.interface_bound(one) == pytest.approx(16 * bw / 0.75)
    assert V.hyperx_all_to_all_bound(one) == pytest.approx(16 * bw / 0.75)
    # the links spread over the four corners: the meshes carry more than the HyperX's
    # bisection (a 4 x 4 HyperX cut in halves: 2 x 2 x 4 = 16 of its 60 link pairs ... binds)
    node = load_config("piuma-node")
    link = V.hyperx_bytes_per_cycle(node)
    assert V.interface_bound(node) > 1.5 * V.interface_bound(one)
    assert V.hyperx_all_to_all_bound(node) == pytest.approx(2 * 16 * link / (2 * 8 * 8 / (16 * 15)))


def test_routes_are_dimension_ordered():
    cfg = load_config("piuma-node")
    net = network_tables(cfg)
    R = cfg.network.mesh_rows * cfg.network.mesh_cols

    def route(a, b):
        k = a * net.routers + b
        return [net.name[x] for x in net.rt_link[net.rt_ptr[k]:net.rt_ptr[k + 1]]]
    assert route(7, 0) == ["d0 r7 inject", "d0 r7->r6", "d0 r6->r5", "d0 r5->r4", "d0 r4->r0",
                           "d0 r0 eject"]
    # die 0 core 1 to die 5 (coordinates (1, 1)) core 4: to router 0 (die 0's link 0, to
    # coordinate 1 of dimension 0, leaves there), dimension 0 then 1; die 4's link 0 (back) is
    # at its router 0 and its link 3 (dimension 1, to coordinate 1) at router 7, so the packet
    # crosses die 4's mesh; it arrives at die 5's router 7 (its link 3, back to coordinate 0)
    assert route(1, 5 * R + 4) == ["d0 r1 inject", "d0 r1->r0", "d0->d4", "d4 r0->r1",
                                   "d4 r1->r2", "d4 r2->r3", "d4 r3->r7", "d4->d5",
                                   "d5 r7->r6", "d5 r6->r5", "d5 r5->r4", "d5 r4 eject"]
    assert route(3, 3) == []
    one = network_tables(load_config("piuma-node", ["network.interface_routers=[0]"]))
    k = 1 * one.routers + 5 * R + 4
    assert [one.name[x] for x in one.rt_link[one.rt_ptr[k]:one.rt_ptr[k + 1]]] == [
        "d0 r1 inject", "d0 r1->r0", "d0->d4", "d4->d5", "d5 r0->r4", "d5 r4 eject"]


@pytest.mark.parametrize("preset, fault, caught", [
    ("piuma-die", FAULT_NO_MESH_OCC, "mesh_hotspot_link"),      # mesh links hold nothing
    ("piuma-die", FAULT_NO_MESH_OCC, "mesh_bisection_uniform"),
    ("piuma-die", FAULT_NO_HOP, "mesh_latency"),                # hop latency not applied
    ("piuma-node", FAULT_NO_HYPERX_OCC, "hyperx_die_pair_bandwidth"),   # HyperX links free
    ("piuma-die", FAULT_FREE_REQUESTS, "mesh_hotspot_link"),    # request packets carry nothing
])
def test_a_broken_network_path_is_caught(preset, fault, caught):
    cfg = load_config(preset)
    assert _network(cfg)[caught]["ok"]
    bad = _network(cfg, fault)[caught]
    assert not bad["ok"], bad


def test_validate_fails_on_a_network_fault(monkeypatch):
    # the whole of run_checks (what `smash validate` runs) fails under a network fault
    cfg = load_config("piuma-die")
    records = V.run_checks(cfg, _fault=FAULT_NO_HOP)
    assert any(not r["ok"] for r in records if r["name"] == "mesh_latency")


def test_records_count_mesh_and_link_traffic():
    cfg = load_config("piuma-node", ["network.interface_routers=[0]"])   # every link at router 0
    sim = Simulation(cfg)

    region = sim.spad_region("far", 4096, core=cfg.cores_per_die)     # core 0 of die 1
    import numpy as np
    from simulator.machine.trace import LOAD, rows
    V._run_lists(sim, [rows(LOAD, region.addr(np.arange(10) * 8), 8)], np.array([1 * 66]))
    row = sim.result().to_row()
    hdr = cfg.network.header_bytes
    assert row["network_bytes"] == 10 * (hdr + hdr + 8)
    # core 1 -> router 0 (one mesh link) -> HyperX d0->d1 -> router 0 of die 1 (no mesh): the
    # requests cross one mesh link, the replies one; each crosses one die-to-die link
    assert row["mesh_link_bytes"] == 10 * (hdr + hdr + 8)
    assert row["link_bytes"] == 10 * (hdr + hdr + 8)
    assert 0 < row["link_busiest_utilization"] < 1
