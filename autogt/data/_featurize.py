"""Molecule featurizer: SMILES -> integer atom/bond categories (OGB-compatible layout).

Every feature is an integer category so a model can embed it. Columns and category counts:

==== ====================== ===================================================== =====
col  atom feature           categories                                            count
==== ====================== ===================================================== =====
0    atomic number          Z - 1 for Z in 1..118, then *other*                   119
1    chirality tag          unspecified, CW, CCW, other-chiral, then *other*      5
2    total degree           0..10, then *other*                                   12
3    formal charge          -5..5, then *other*                                   12
4    total number of H      0..8, then *other*                                    10
5    radical electrons      0..4, then *other*                                    6
6    hybridization          SP, SP2, SP3, SP3D, SP3D2, then *other*               6
7    aromatic               no, yes                                               2
8    in a ring              no, yes                                               2
==== ====================== ===================================================== =====

==== ====================== ===================================================== =====
col  bond feature           categories                                            count
==== ====================== ===================================================== =====
0    bond type              single, double, triple, aromatic, then *other*        5
1    stereo                 none, Z, E, cis, trans, any, then *other*             7
2    conjugated             no, yes                                               2
==== ====================== ===================================================== =====

The order of the known categories follows OGB's ``ogbg-mol*`` convention, so indices agree with
OGB-featurized data wherever OGB has a category; values OGB has no slot for (new RDKit enum
members, exotic charges...) fall into the trailing *other* bucket instead of failing.

Example:
    >>> from autogt.data import smiles_to_graph
    >>> g = smiles_to_graph("c1ccccc1")
    >>> g.x.shape, g.edge_index.shape, g.edge_attr.shape
    (torch.Size([6, 9]), torch.Size([2, 12]), torch.Size([12, 3]))
    >>> g.x[:, 7].tolist()  # aromatic flags
    [1, 1, 1, 1, 1, 1]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from rdkit import Chem, rdBase
from rdkit.Chem.Scaffolds import MurckoScaffold

if TYPE_CHECKING:
    from torch_geometric.data import Data

__all__ = ["ATOM_VOCAB", "BOND_VOCAB", "FEATURIZER_VERSION", "mol_to_graph", "smiles_to_graph"]

FEATURIZER_VERSION = "ogb-like-1"

_CT = Chem.rdchem.ChiralType
_HT = Chem.rdchem.HybridizationType
_BT = Chem.rdchem.BondType
_BS = Chem.rdchem.BondStereo

# Known categories in OGB order; the trailing "other" index is len(list).
_CHIRALITY = [_CT.CHI_UNSPECIFIED, _CT.CHI_TETRAHEDRAL_CW, _CT.CHI_TETRAHEDRAL_CCW, _CT.CHI_OTHER]
_HYBRIDIZATION = [_HT.SP, _HT.SP2, _HT.SP3, _HT.SP3D, _HT.SP3D2]
_BOND_TYPE = [_BT.SINGLE, _BT.DOUBLE, _BT.TRIPLE, _BT.AROMATIC]
_BOND_STEREO = [_BS.STEREONONE, _BS.STEREOZ, _BS.STEREOE, _BS.STEREOCIS, _BS.STEREOTRANS, _BS.STEREOANY]

# (low, high) inclusive ranges for the integer-valued atom features.
_ATOMIC_NUM = (1, 118)
_DEGREE = (0, 10)
_CHARGE = (-5, 5)
_NUM_H = (0, 8)
_RADICALS = (0, 4)

ATOM_VOCAB: tuple[int, ...] = (
    _ATOMIC_NUM[1] - _ATOMIC_NUM[0] + 2,
    len(_CHIRALITY) + 1,
    _DEGREE[1] - _DEGREE[0] + 2,
    _CHARGE[1] - _CHARGE[0] + 2,
    _NUM_H[1] - _NUM_H[0] + 2,
    _RADICALS[1] - _RADICALS[0] + 2,
    len(_HYBRIDIZATION) + 1,
    2,
    2,
)
"""Category count of each atom feature column: ``(119, 5, 12, 12, 10, 6, 6, 2, 2)``."""

BOND_VOCAB: tuple[int, ...] = (len(_BOND_TYPE) + 1, len(_BOND_STEREO) + 1, 2)
"""Category count of each bond feature column: ``(5, 7, 2)``."""


def _range_code(values: np.ndarray, low: int, high: int) -> np.ndarray:
    """``value - low`` inside ``[low, high]``, else the *other* index ``high - low + 1``."""
    inside = (values >= low) & (values <= high)
    return np.where(inside, values - low, high - low + 1)


def _enum_code(values: np.ndarray, known: Sequence[object]) -> np.ndarray:
    """Position of each enum value (given as int) in ``known``, else ``len(known)``."""
    keys = np.array([int(k) for k in known], dtype=np.int64)  # type: ignore[call-overload]
    size = max(int(values.max(initial=0)), int(keys.max())) + 1
    table = np.full(size, len(known), dtype=np.int64)
    table[keys] = np.arange(len(known))
    safe = np.clip(values, 0, size - 1)
    return np.where(values >= 0, table[safe], len(known))


def encode_atoms(raw: np.ndarray) -> np.ndarray:
    """Raw RDKit atom values ``[n, 9]`` (see ``_atom_raw``) -> category indices ``[n, 9]``."""
    out = np.empty_like(raw)
    out[:, 0] = _range_code(raw[:, 0], *_ATOMIC_NUM)
    out[:, 1] = _enum_code(raw[:, 1], _CHIRALITY)
    out[:, 2] = _range_code(raw[:, 2], *_DEGREE)
    out[:, 3] = _range_code(raw[:, 3], *_CHARGE)
    out[:, 4] = _range_code(raw[:, 4], *_NUM_H)
    out[:, 5] = _range_code(raw[:, 5], *_RADICALS)
    out[:, 6] = _enum_code(raw[:, 6], _HYBRIDIZATION)
    out[:, 7] = raw[:, 7] != 0
    out[:, 8] = raw[:, 8] != 0
    return out


def encode_bonds(raw: np.ndarray) -> np.ndarray:
    """Raw RDKit bond values ``[e, 3]`` (see ``_bond_raw``) -> category indices ``[e, 3]``."""
    out = np.empty_like(raw)
    out[:, 0] = _enum_code(raw[:, 0], _BOND_TYPE)
    out[:, 1] = _enum_code(raw[:, 1], _BOND_STEREO)
    out[:, 2] = raw[:, 2] != 0
    return out


def _atom_raw(mol: Chem.Mol) -> list[tuple[int, ...]]:
    return [
        (
            a.GetAtomicNum(),
            int(a.GetChiralTag()),
            a.GetTotalDegree(),
            a.GetFormalCharge(),
            a.GetTotalNumHs(),
            a.GetNumRadicalElectrons(),
            int(a.GetHybridization()),
            int(a.GetIsAromatic()),
            int(a.IsInRing()),
        )
        for a in mol.GetAtoms()
    ]


def _bond_raw(mol: Chem.Mol) -> tuple[list[tuple[int, int]], list[tuple[int, int, int]]]:
    """Directed edges (each bond twice, ``i->j`` then ``j->i``) and their raw bond values."""
    pairs: list[tuple[int, int]] = []
    values: list[tuple[int, int, int]] = []
    for b in mol.GetBonds():
        i, j = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
        v = (int(b.GetBondType()), int(b.GetStereo()), int(b.GetIsConjugated()))
        pairs += [(i, j), (j, i)]
        values += [v, v]
    return pairs, values


@contextmanager
def quiet_rdkit() -> Iterator[None]:
    """Silence RDKit's C++ warnings/errors (bad SMILES are reported by autogt instead)."""
    block = rdBase.BlockLogs()
    try:
        yield
    finally:
        del block


def mol_to_graph(mol: Chem.Mol) -> dict[str, torch.Tensor]:
    """Featurize an RDKit molecule.

    Args:
        mol: a sanitized RDKit molecule with at least one atom.

    Returns:
        ``{"x": long[n, 9], "edge_index": long[2, e], "edge_attr": long[e, 3]}`` with both directions of
        every bond.

    Example:
        >>> from rdkit import Chem
        >>> mol_to_graph(Chem.MolFromSmiles("CCO"))["edge_index"].tolist()
        [[0, 1, 1, 2], [1, 0, 2, 1]]
    """
    atoms = np.array(_atom_raw(mol), dtype=np.int64).reshape(-1, 9)
    pairs, values = _bond_raw(mol)
    edge_index = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
    edge_attr = np.array(values, dtype=np.int64).reshape(-1, 3)
    return {
        "x": torch.from_numpy(encode_atoms(atoms)),
        "edge_index": torch.from_numpy(np.ascontiguousarray(edge_index)),
        "edge_attr": torch.from_numpy(encode_bonds(edge_attr)),
    }


def smiles_to_graph(smiles: str) -> Data | None:
    """Featurize one SMILES string into a PyG ``Data`` (``None`` if unparseable or empty).

    Args:
        smiles: a SMILES string.

    Returns:
        ``Data(x=long[n, 9], edge_index=long[2, e], edge_attr=long[e, 3], smiles=str)`` or ``None``.

    Example:
        >>> smiles_to_graph("CCO").num_nodes
        3
        >>> smiles_to_graph("not a molecule") is None
        True
    """
    from torch_geometric.data import Data

    with quiet_rdkit():
        mol = Chem.MolFromSmiles(smiles)
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    return Data(**mol_to_graph(mol), smiles=smiles)


@dataclass
class FeaturizedBatch:
    """Many molecules featurized at once, stored as concatenated arrays.

    ``x``/``edge_attr`` rows and ``edge_index`` columns of molecule ``i`` follow those of molecule ``i - 1``;
    ``edge_index`` holds per-molecule (local) node ids. ``kept`` are the input positions that produced a graph.
    """

    x: np.ndarray  # (N_total, 9)
    edge_index: np.ndarray  # (2, E_total), local ids
    edge_attr: np.ndarray  # (E_total, 3)
    num_nodes: np.ndarray  # (G,)
    num_edges: np.ndarray  # (G,)
    kept: np.ndarray  # (G,) positions in the input list
    scaffolds: list[str]  # (G,) Bemis-Murcko scaffold SMILES (no chirality)
    skipped: list[tuple[int, str, str]] = field(default_factory=list)  # (position, smiles, reason)


def featurize_many(smiles: Sequence[str], *, progress: bool = False, desc: str = "featurizing") -> FeaturizedBatch:
    """Featurize a list of SMILES, skipping (and recording) unparseable or empty ones.

    Args:
        smiles: SMILES strings (non-strings such as NaN count as unparseable).
        progress: show a tqdm bar on stderr.
        desc: label of the progress bar.

    Returns:
        A :class:`FeaturizedBatch`; also computes each kept molecule's Bemis-Murcko scaffold.
    """
    from tqdm.auto import tqdm

    atoms: list[tuple[int, ...]] = []
    pairs: list[tuple[int, int]] = []
    bonds: list[tuple[int, int, int]] = []
    num_nodes: list[int] = []
    num_edges: list[int] = []
    kept: list[int] = []
    scaffolds: list[str] = []
    skipped: list[tuple[int, str, str]] = []
    with quiet_rdkit():
        for pos, smi in enumerate(tqdm(smiles, desc=desc, disable=not progress, unit="mol", mininterval=1.0)):
            if not isinstance(smi, str) or not smi.strip():
                skipped.append((pos, str(smi), "empty SMILES"))
                continue
            mol = Chem.MolFromSmiles(smi)
            if mol is None:
                skipped.append((pos, smi, "unparseable SMILES"))
                continue
            if mol.GetNumAtoms() == 0:
                skipped.append((pos, smi, "no atoms"))
                continue
            a = _atom_raw(mol)
            p, b = _bond_raw(mol)
            atoms += a
            pairs += p
            bonds += b
            num_nodes.append(len(a))
            num_edges.append(len(p))
            kept.append(pos)
            scaffolds.append(_scaffold(mol))
    x = encode_atoms(np.array(atoms, dtype=np.int64).reshape(-1, 9))
    edge_attr = encode_bonds(np.array(bonds, dtype=np.int64).reshape(-1, 3))
    edge_index = np.ascontiguousarray(np.array(pairs, dtype=np.int64).reshape(-1, 2).T)
    return FeaturizedBatch(
        x=x,
        edge_index=edge_index,
        edge_attr=edge_attr,
        num_nodes=np.array(num_nodes, dtype=np.int64),
        num_edges=np.array(num_edges, dtype=np.int64),
        kept=np.array(kept, dtype=np.int64),
        scaffolds=scaffolds,
        skipped=skipped,
    )


def _scaffold(mol: Chem.Mol) -> str:
    """Bemis-Murcko scaffold SMILES without chirality ('' for acyclic molecules)."""
    try:
        return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)
    except Exception:  # noqa: BLE001 - odd valences can make RDKit fail; treat as its own scaffold
        return Chem.MolToSmiles(mol)
