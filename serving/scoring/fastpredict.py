"""LightGBM's single-row fast path for one-person requests: the same numbers, a fraction of the work.

``Booster.predict`` on one row builds a predictor object, copies its parameters, asks the library for
the number of classes and of outputs, converts the row through numpy's ctypes interface and allocates
the output, every call: most of a one-row prediction. LightGBM's C API has a path made for this
(``LGBM_BoosterPredictForMatSingleRowFastInit`` once, then ``..SingleRowFast`` per row): the
configuration is prepared once per model and kind of output and reused. :class:`SingleRow` keeps one
configuration per thread (a configuration holds buffers and must not be shared by concurrent calls),
for the raw margin and for TreeSHAP contributions, with the parameters ``Booster.predict`` is called
with (one thread) and the iterations it would use (the best iteration, else all trees). It computes
with the same predictor code as ``Booster.predict``; ``tests/serving/scoring/test_fastpredict.py``
checks the outputs are identical, NaN rows included.
"""

from __future__ import annotations

import ctypes
import threading
import weakref

import numpy as np

__all__ = ["SingleRow"]

_RAW_SCORE, _CONTRIB = 1, 3          # C_API_PREDICT_RAW_SCORE, C_API_PREDICT_CONTRIB
_FLOAT64 = 1                         # C_API_DTYPE_FLOAT64
_PARAMS = b"num_threads=1"           # what Booster.predict(..., num_threads=1) passes


class SingleRow:
    """One-row raw margin and TreeSHAP for one booster, on LightGBM's single-row fast path."""

    def __init__(self, booster) -> None:
        from lightgbm.basic import _LIB

        self._lib = _LIB
        self._booster = booster          # keeps the handle alive as long as this object
        self._handle = booster._handle
        self.n_features = int(booster.num_feature())
        best = int(getattr(booster, "best_iteration", -1) or -1)
        self._num_iteration = best if best > 0 else -1
        self._local = threading.local()
        self._configs: list[ctypes.c_void_p] = []
        self._lock = threading.Lock()
        weakref.finalize(self, SingleRow._free, _LIB, self._configs)

    @staticmethod
    def _free(lib, configs: list) -> None:
        for cfg in configs:
            lib.LGBM_FastConfigFree(cfg)
        configs.clear()

    def _config(self, kind: int) -> ctypes.c_void_p:
        cfg = getattr(self._local, "cfg", None)
        if cfg is None:
            cfg = self._local.cfg = {}
        c = cfg.get(kind)
        if c is None:
            c = ctypes.c_void_p()
            ret = self._lib.LGBM_BoosterPredictForMatSingleRowFastInit(
                self._handle, ctypes.c_int(kind), ctypes.c_int(0), ctypes.c_int(self._num_iteration),
                ctypes.c_int(_FLOAT64), ctypes.c_int32(self.n_features), ctypes.c_char_p(_PARAMS), ctypes.byref(c))
            if ret != 0:
                from lightgbm.basic import _LIB, LightGBMError

                raise LightGBMError(_LIB.LGBM_GetLastError().decode("utf-8"))
            with self._lock:
                self._configs.append(c)
            cfg[kind] = c
        return c

    def _run(self, kind: int, row: np.ndarray, width: int) -> np.ndarray:
        row = np.ascontiguousarray(row, dtype=np.float64)
        if row.shape != (self.n_features,):
            raise ValueError(f"one row of {self.n_features} features expected, got shape {row.shape}")
        out = np.empty(width, dtype=np.float64)
        n = ctypes.c_int64(0)
        ret = self._lib.LGBM_BoosterPredictForMatSingleRowFast(
            self._config(kind), ctypes.c_void_p(row.ctypes.data), ctypes.byref(n), ctypes.c_void_p(out.ctypes.data))
        if ret != 0:
            from lightgbm.basic import LightGBMError

            raise LightGBMError(self._lib.LGBM_GetLastError().decode("utf-8"))
        if n.value != width:
            raise ValueError(f"LightGBM returned {n.value} values, expected {width}")
        return out

    def raw(self, row: np.ndarray) -> float:
        """The raw margin (log-odds) of one row: ``booster.predict(row[None], raw_score=True)[0]``."""
        return float(self._run(_RAW_SCORE, row, 1)[0])

    def contrib(self, row: np.ndarray) -> np.ndarray:
        """TreeSHAP of one row, ``F + 1`` values (the last the expected value):
        ``booster.predict(row[None], pred_contrib=True)[0]``."""
        return self._run(_CONTRIB, row, self.n_features + 1)
