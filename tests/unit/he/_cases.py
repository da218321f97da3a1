"""Expression families shared by the HE tests (EinHops' benchmark and test shapes)."""

from __future__ import annotations

# EinHops' 15 benchmarks at their shapes, with the rotations, plaintext products and
# consumed levels measured for EinHops on CPU (research note, table 1.6).
EINHOPS_BENCH: list[tuple[str, list[tuple[int, ...]], int, int]] = [
    ("ij->ji", [(128, 128)], 256, 2),
    ("ij->", [(128, 128)], 14, 1),
    ("ij->j", [(128, 128)], 7, 1),
    ("ij->i", [(128, 128)], 263, 2),
    ("ik,k->i", [(128, 128), (128,)], 526, 3),
    ("ik,kj->ij", [(16, 32), (32, 32)], 114, 3),
    ("i,i->", [(16384,), (16384,)], 14, 2),
    ("ij,ij->", [(128, 128), (128, 128)], 14, 2),
    ("ij,ij->ij", [(128, 128), (128, 128)], 0, 2),
    ("i,j->ij", [(128,), (128,)], 270, 3),
    ("ijk,ikl->ijl", [(16, 8, 8), (16, 8, 8)], 41, 3),
    ("ij,ij,ij->ij", [(128, 128)] * 3, 0, 3),
    ("ij,jk,kl->il", [(16, 8), (8, 8), (8, 16)], 316, 4),
    ("ik,jkl,il->ij", [(8, 16), (8, 16, 16), (8, 16)], 450, 4),
    ("pqrs,tuqvr->pstuv", [(2, 4, 8, 8), (1, 4, 4, 2, 8)], 333, 3),
]
