"""Regenerate the small HDF5 fixtures used by tests/aaai21.rs (h5py >= 3; not needed to run the tests).

    python3 tests/data/h5/make_fixtures.py tests/data/h5

Each fixture exercises a part of the HDF5 format that the published Keras weight files
(superblock v0, symbol-table groups, contiguous little-endian float32) do not.
"""
import sys

import h5py
import numpy as np

out = sys.argv[1]

# Q = 4: weights have 3 fractional bits (w * 8), biases 2 (b * 4); ties round half up.
K0 = np.array([[0.0625, -0.0625, 0.5], [0.1875, 2.0, -2.0], [-0.3, 0.3, 0.9], [1.0, -1.0, 0.0]], dtype=np.float32)  # [in=4, out=3]
B0 = np.array([0.125, -0.125, 10.0], dtype=np.float32)
K1 = np.array([[1.0, -1.0], [0.5, 0.25], [-0.75, 0.125]], dtype=np.float32)  # [in=3, out=2]
B1 = np.array([0.0, -0.375], dtype=np.float32)


def keras_like(f, big_endian_f64=False, compact=False):
    """Layer groups deliberately in reverse alphabetical order of their network position."""
    for grp, k, b in (("z_first", K0, B0), ("a_second", K1, B1)):
        g = f.create_group(f"{grp}/{grp}")
        if big_endian_f64:
            g.create_dataset("kernel:0", data=k.astype(">f8"))
        elif compact:
            space = h5py.h5s.create_simple(k.shape)
            plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            plist.set_layout(h5py.h5d.COMPACT)
            ds = h5py.h5d.create(g.id, b"kernel:0", h5py.h5t.IEEE_F32LE, space, plist)
            ds.write(h5py.h5s.ALL, h5py.h5s.ALL, np.ascontiguousarray(k))
        else:
            g.create_dataset("kernel:0", data=k)
        g.create_dataset("bias:0", data=b)
    f.attrs["layer_names"] = [b"z_first", b"a_second"]


with h5py.File(f"{out}/latest_qu_4.h5", "w", libver="latest") as f:  # superblock v3, OHDR v2, links
    keras_like(f, compact=True)
with h5py.File(f"{out}/f64be_qu_4.h5", "w", libver="earliest") as f:  # big-endian binary64
    keras_like(f, big_endian_f64=True)
with h5py.File(f"{out}/many_objects.h5", "w", libver="earliest") as f:  # several symbol nodes
    for i in range(40):
        f.create_dataset(f"d{i:02}", data=np.float32(i))
with h5py.File(f"{out}/chunked.h5", "w", libver="earliest") as f:
    f.create_dataset("x", data=np.zeros((4, 4), np.float32), chunks=(2, 2))
with h5py.File(f"{out}/int.h5", "w", libver="earliest") as f:
    f.create_dataset("x", data=np.zeros(3, np.int32))
